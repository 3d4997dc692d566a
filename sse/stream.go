package sse

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
)

// stream is one open event stream: the Server-Sent Events transport of a
// session. Events are queued by whoever delivers them and written by the
// request's own goroutine (serve), which net/http keeps anyway; so an idle
// stream costs that goroutine and the connection's buffers, nothing more.
type stream struct {
	srv    *Server
	id     string // names the stream in POST /sse/{id}/messages
	remote string
	since  int64 // the resume point the stream started from, -1 for none
	sess   *session.Session

	hmu sync.Mutex // one POSTed message handled at a time, as a socket's reader does

	mu        sync.Mutex
	queue     [][]byte
	latest    int  // index+1 in queue of the unsent Latest message, 0 if none
	greeted   bool // the connected message has been queued
	closing   bool // the close event is queued; nothing more is
	wake      chan struct{}
	drained   chan struct{} // signalled by serve after each batch
	done      chan struct{} // closed when serve has returned
	closeCode int
}

func newStream(srv *Server, id, remote string, since int64) *stream {
	return &stream{srv: srv, id: id, remote: remote, since: since,
		wake: make(chan struct{}, 1), drained: make(chan struct{}, 1), done: make(chan struct{})}
}

// RemoteAddr implements session.Transport.
func (st *stream) RemoteAddr() string { return st.remote }

// Send implements session.Transport: it queues o as an event. A stream whose
// queue is full is too slow to keep up: it is ended with a close event
// (1013), and its client resumes from Last-Event-ID.
func (st *stream) Send(o session.Outbound) bool {
	ev := st.render(o)
	for {
		st.mu.Lock()
		if st.closing {
			st.mu.Unlock()
			return false
		}
		if o.Force || len(st.queue) < st.srv.cfg.QueueSize {
			if o.Msg != nil && o.Msg.Latest {
				if st.latest > 0 {
					st.queue[st.latest-1] = ev
					st.mu.Unlock()
					return true
				}
				st.latest = len(st.queue) + 1
			}
			st.queue = append(st.queue, ev)
			st.mu.Unlock()
			if !o.More { // the next Send, on this goroutine, wakes the writer for both
				st.signal()
			}
			st.srv.metrics.MessagesOut.Inc()
			return true
		}
		st.mu.Unlock()
		if !o.Wait {
			st.overflow()
			return false
		}
		select {
		case <-st.drained:
		case <-st.done:
			return false
		case <-time.After(st.srv.cfg.WriteTimeout):
			st.overflow()
			return false
		}
	}
}

// render makes o's event. The greeting gets the stream's id, for POSTs,
// and the resume point as its event id.
func (st *stream) render(o session.Outbound) []byte {
	if o.Msg != nil {
		return eventOf(o.Msg)
	}
	data := o.Data
	st.mu.Lock()
	first, since := !st.greeted, st.since
	st.greeted = true
	st.mu.Unlock()
	if first && bytes.HasPrefix(data, []byte(`{"type":"connected"`)) {
		withID := make([]byte, 0, len(data)+len(st.id)+13)
		withID = append(withID, `{"stream":"`...)
		withID = append(withID, st.id...)
		withID = append(withID, `",`...)
		withID = append(withID, data[1:]...)
		id := ""
		if since >= 0 {
			id = strconv.FormatInt(since, 10)
		}
		return event(herald.TypeConnected, id, withID)
	}
	name, id := describe(data, 0)
	return event(name, id, data)
}

func (st *stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// overflow ends a stream that could not keep up.
func (st *stream) overflow() {
	st.srv.metrics.QueueOverflows.Inc()
	st.Close(herald.CloseTryAgainLater, "Too slow to keep up; reconnect and resume")
}

// Close implements session.Transport: the close event goes after what is
// queued, and the stream ends once it is written.
func (st *stream) Close(code int, reason string) {
	st.mu.Lock()
	if st.closing {
		st.mu.Unlock()
		return
	}
	st.closing, st.closeCode = true, code
	st.queue = append(st.queue, closeEvent(code, reason))
	st.mu.Unlock()
	st.signal()
}

// take returns what is queued and whether the close event is among it.
func (st *stream) take() ([][]byte, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	q := st.queue
	st.queue, st.latest = nil, 0
	return q, st.closing
}

// serve writes the stream until it is closed, its client goes or a write
// fails, with a heartbeat comment whenever it has been idle for the interval.
func (st *stream) serve(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	defer close(st.done)
	rc := http.NewResponseController(w)
	hb := time.NewTimer(st.srv.cfg.HeartbeatInterval)
	defer hb.Stop()
	// The write deadline moves only when less than half of WriteTimeout is
	// left: moving a timer on every batch is a measurable part of a fan-out.
	var deadline time.Time
	write := func(evs ...[]byte) bool {
		if len(evs) == 0 { // a wake whose events an earlier batch took
			return true
		}
		if now := time.Now(); deadline.Sub(now) < st.srv.cfg.WriteTimeout/2 {
			deadline = now.Add(st.srv.cfg.WriteTimeout)
			_ = rc.SetWriteDeadline(deadline)
		}
		for _, ev := range evs {
			if _, err := w.Write(ev); err != nil {
				return false
			}
		}
		st.srv.metrics.Writes.Inc()
		return rc.Flush() == nil
	}
	for {
		select {
		case <-st.wake:
			evs, closing := st.take()
			ok := write(evs...)
			select {
			case st.drained <- struct{}{}:
			default:
			}
			if !ok || closing {
				return
			}
			hb.Reset(st.srv.cfg.HeartbeatInterval)
		case <-hb.C:
			if !write(heartbeat) {
				return
			}
			hb.Reset(st.srv.cfg.HeartbeatInterval)
		case <-r.Context().Done():
			return
		case <-stop:
			st.sess.Close(herald.CloseGoingAway, "Server shutting down")
			stop = nil
		}
	}
}
