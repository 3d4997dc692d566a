package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process owned by the test binary.
type Server struct {
	bin  string
	dir  string // temporary directory: working directory and log
	port int
	// extra returns arguments added to the defaults (a cluster node's, a
	// replica's); sentinel, when set, replaces them all by a sentinel's,
	// whose configuration file it writes.
	extra    func(s *Server) []string
	sentinel func(s *Server) ([]string, error)
	busPort  int // a cluster node's cluster bus port, kept across restarts

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has ended
}

// start runs a server on port, or on a free port when port is 0.
func start(port int) (*Server, error) {
	return startWith(&Server{port: port})
}

// startWith runs s, whose port (0: a free one), extra and sentinel are set.
func startWith(s *Server) (*Server, error) {
	port := s.port
	bin, err := lookPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "herald-redistest-")
	if err != nil {
		return nil, err
	}
	s.bin, s.dir = bin, dir
	// A port found free may be taken before redis binds it; try another then.
	for attempt := 1; ; attempt++ {
		if port == 0 {
			if s.port, err = freePort(); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		if err = s.run(); err == nil {
			return s, nil
		}
		s.busPort = 0 // it may have been the one taken
		if attempt == 3 || port != 0 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Running reports whether the server's process runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop kills the server at once, as a crash would: clients see their
// connections reset, and the data is gone (there is no persistence).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("redistest: Stop on a stopped server")
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Start restarts a stopped server on the same port.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		t.Fatal("redistest: Start on a running server")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.runLocked()
		if err == nil {
			return
		}
		// The port may linger for a moment after the kill.
		if time.Now().After(deadline) {
			t.Fatalf("redistest: restart on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runLocked()
}

// runLocked starts redis-server and waits until it answers PING.
func (s *Server) runLocked() error {
	logPath := filepath.Join(s.dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--save", "", // no snapshots
		"--appendonly", "no",
		"--databases", strconv.Itoa(databases),
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
	}
	if s.extra != nil {
		args = append(args, s.extra(s)...)
	}
	if s.sentinel != nil {
		var err error
		if args, err = s.sentinel(s); err != nil {
			return err
		}
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // dies with the test binary
		Setpgid:   true,            // keep a terminal's ^C for the test binary
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(s.Addr()); err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited during start-up: %s", tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING in time: %s", tail(logPath))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill ends the server at once, as a crash would, if it runs; unlike Stop
// it does not mind a server already stopped. The directory stays, for a
// Start on the same port.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// kill ends the server, if it runs, and removes its directory.
func (s *Server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
	os.RemoveAll(s.dir)
}

// ping sends a RESP PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server with a password answers, but not PONG: it is up.
	if l := strings.TrimSpace(line); l != "+PONG" && !strings.HasPrefix(l, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of the log at path, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
