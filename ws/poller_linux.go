package ws

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller waits for idle connections to become readable with one epoll set,
// so that an idle connection needs no goroutine: a reader takes it only when
// data arrives, reads the frames that came (Server.onReadable) and moves on
// (see dispatch).
// Registrations are one-shot, so a connection has at most one reader at a
// time; each one has its own id, so a late event for a connection already
// gone is ignored.
//
// The set itself is waited on through Go's own network poller: its
// descriptor, non-blocking, is an *os.File, and the loop asks it for events
// without blocking, parking in the runtime — like any socket read — only when
// there are none. A blocking epoll_wait would instead hold an OS thread and,
// until the runtime's monitor noticed, the processor it ran on: with few
// cores, every round of the loop stalled all other goroutines for a
// monitor tick, which cost a third of the rate at which clients could connect
// and subscribe on one core (issue 12).
type poller struct {
	epfd int
	file *os.File // epfd, registered with the runtime's poller
	raw  syscall.RawConn

	mu      sync.Mutex
	conns   map[uint64]*conn
	nextID  uint64
	stopped bool
	done    chan struct{}
	on      func(*conn) // called on a reader goroutine when c is readable
	ready   chan *conn  // unbuffered: taken only by a reader waiting for work
}

func newPoller(on func(*conn)) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking before os.NewFile, which then registers it with the
	// runtime's poller instead of treating it as a blocking file.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	file := os.NewFile(uintptr(epfd), "ws-epoll")
	raw, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, err
	}
	p := &poller{epfd: epfd, file: file, raw: raw, conns: make(map[uint64]*conn), nextID: 1, done: make(chan struct{}), on: on, ready: make(chan *conn)}
	go p.loop()
	return p, nil
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add registers c, whose socket must have a descriptor (a *net.TCPConn).
func (p *poller) add(c *conn) error {
	fd, err := fdOf(c)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("ws: poller stopped")
	}
	id := p.nextID
	p.nextID++
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(id), Pad: int32(id >> 32)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	c.pollID, c.pollFD = id, fd
	p.conns[id] = c
	return nil
}

// rearm waits for c's next frame, unless c was removed meanwhile.
//
// Every epoll operation runs under p.mu and only for a live registration:
// descriptor numbers are reused as soon as they are closed, so an operation
// on behalf of a connection already gone (or of a stopped poller) could
// otherwise change another socket's registration.
func (p *poller) rearm(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.conns[c.pollID] != c {
		return errors.New("ws: connection no longer polled")
	}
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(c.pollID), Pad: int32(c.pollID >> 32)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.pollFD, &ev)
}

// remove forgets c; its caller closes c's socket next. It makes no
// EPOLL_CTL_DEL call: the kernel drops the registration itself when the
// socket closes, and until then an event for it carries an id no longer in
// conns and is ignored (loop). That is one system call fewer per connection.
// Calling it twice is harmless.
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.pollID] == c {
		delete(p.conns, c.pollID)
	}
}

// loop hands each readable connection to a reader (dispatch) until stop. Each
// round asks the set for events without blocking; the runtime parks the loop
// when there are none and wakes it when the set becomes readable again,
// which it does whenever a registered socket has an event: the check always
// comes before the wait, so no event is missed between the two.
func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	for {
		var n int
		var werr error
		err := p.raw.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			return n > 0 || werr != nil
		})
		if errors.Is(werr, unix.EINTR) {
			continue
		}
		if err != nil || werr != nil {
			return // the file was closed by stop
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				p.dispatch(c)
			}
		}
	}
}

// readerIdle is how long a reader goroutine waits for another readable
// connection before it ends.
const readerIdle = time.Second

// dispatch hands c to a reader goroutine that is waiting for work, or starts
// one. A reader that has read a frame waits a moment for the next readable
// connection, so that under load the same few goroutines — their stacks
// already grown by the JSON decoder and the handlers — read frame after frame,
// instead of each frame starting a goroutine and growing its stack again
// (stack growth was 7 % of the server's CPU while clients connected and
// subscribed). Idle, the readers end, and an idle connection still costs no
// goroutine. A reader blocked on a slow frame never holds up others: when
// none waits, a new one starts.
func (p *poller) dispatch(c *conn) {
	select {
	case p.ready <- c:
	default:
		go p.read(c)
	}
}

// read is a reader goroutine: it reads c's frame, then the frames of the
// connections dispatch hands it, until none comes for readerIdle or the
// poller stops.
func (p *poller) read(c *conn) {
	idle := time.NewTimer(readerIdle)
	defer idle.Stop()
	for {
		p.on(c)
		idle.Reset(readerIdle)
		select {
		case c = <-p.ready:
		case <-idle.C:
			return
		case <-p.done:
			return
		}
	}
}

// stop ends the loop and releases the epoll set. Later calls of the other
// methods do nothing.
func (p *poller) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	// Closing the file wakes the parked loop with an error; the descriptor
	// itself is released once the loop's read has returned.
	_ = p.file.Close()
	<-p.done
	p.mu.Lock()
	clear(p.conns)
	p.mu.Unlock()
}

// fdOf returns the descriptor of c's socket. It stays valid while the socket
// is open; the poller is told to forget it before it closes.
func fdOf(c *conn) (int, error) {
	if c.raw == nil {
		return 0, errors.New("ws: socket has no descriptor")
	}
	fd := -1
	if err := c.raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, err
	}
	return fd, nil
}
