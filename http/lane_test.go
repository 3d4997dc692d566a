package http_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

// served says who served a request: the lane's requests carry no
// http.ServerContextKey, net/http's do.
func served(r *http.Request) string {
	if r.Context().Value(http.ServerContextKey) == nil {
		return "lane"
	}
	return "net/http"
}

// laneServer serves up at /up (HandleUpgrade) and plain at /plain (Handle).
func laneServer(t *testing.T, up, plain http.HandlerFunc) *heraldhttp.Server {
	t.Helper()
	s := heraldhttp.NewServer(heraldhttp.Config{Addr: "127.0.0.1:0", APIKey: apiKey})
	s.HandleUpgrade("/up", up)
	if plain != nil {
		s.Handle("/plain", plain)
	}
	serveUntilCleanup(t, s)
	return s
}

// rawDial connects to s and sends req as it is.
func rawDial(t *testing.T, s *heraldhttp.Server, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// echoUpgrade hijacks the connection, answers 101 and sends back who served
// it, the connection's type, the token and the bytes that came after the
// request, then closes it.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	nc, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer nc.Close()
	early, _ := rw.Reader.Peek(rw.Reader.Buffered())
	_, tcp := nc.(*net.TCPConn)
	tok := r.URL.Query().Get("token")
	_, _ = io.WriteString(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	_, _ = io.WriteString(rw, served(r)+" tcp="+map[bool]string{true: "yes", false: "no"}[tcp]+
		" remote="+r.RemoteAddr+" token="+tok+" early="+string(early)+"\n")
	_ = rw.Flush()
}

// upgraded reads echoUpgrade's answer: the 101, then what followed it.
func upgraded(t *testing.T, c net.Conn) (*http.Response, []byte) {
	t.Helper()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	return resp, rest
}

// An upgrade request for a HandleUpgrade path is served by the lane: the
// handler sees the request (query unescaped, RemoteAddr the client's),
// hijacks the very TCP connection, and finds the bytes sent after the
// request in the reader it was handed.
func TestLaneServesUpgradePaths(t *testing.T) {
	s := laneServer(t, echoUpgrade, nil)
	c := rawDial(t, s, "GET /up?token=a%2Bb HTTP/1.1\r\nHost: herald\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nEARLY")
	resp, body := upgraded(t, c)
	want := "lane tcp=yes remote=" + c.LocalAddr().String() + " token=a+b early=EARLY\n"
	if resp.StatusCode != 101 || string(body) != want {
		t.Fatalf("got %d %q, want 101 %q", resp.StatusCode, body, want)
	}
}

// An answer that is not a hijack (a refusal) reaches the client whole, with
// the handler's headers, and the connection closes after it.
func TestLaneAnswerClosesTheConnection(t *testing.T) {
	s := laneServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"`+served(r)+`"}`, http.StatusTooManyRequests)
	}, nil)
	c := rawDial(t, s, "GET /up HTTP/1.1\r\nHost: herald\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || string(body) != `{"error":"lane"}`+"\n" || resp.Header.Get("Retry-After") != "1" ||
		!resp.Close || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Date") == "" {
		t.Fatalf("got %d %q %v (close %v)", resp.StatusCode, body, resp.Header, resp.Close)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the answer: %d bytes, %v; want EOF", n, err)
	}
}

// Every other connection reaches net/http as accepted: other paths, paths
// that only begin like an upgrade path, other methods, and a request line
// too slow to show its path in the first segment, which net/http then
// serves with the same handler.
func TestLanePassesTheRestToNetHTTP(t *testing.T) {
	s := laneServer(t, echoUpgrade, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, served(r)+" "+r.URL.Path)
	})
	for _, path := range []string{"/plain", "/upx", "/up/"} {
		c := rawDial(t, s, "GET "+path+" HTTP/1.1\r\nHost: herald\r\n\r\nGET /plain HTTP/1.1\r\nHost: herald\r\n\r\n")
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ { // keep-alive: two requests on one connection
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s, answer %d: %v", path, i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if path == "/plain" || i == 1 {
				if resp.StatusCode != 200 || string(body) != "net/http /plain" {
					t.Fatalf("%s, answer %d: %d %q", path, i, resp.StatusCode, body)
				}
			} else if resp.StatusCode != 404 {
				t.Fatalf("%s: %d %q, want net/http's 404", path, resp.StatusCode, body)
			}
		}
	}

	c := rawDial(t, s, "POST /up HTTP/1.1\r\nHost: herald\r\nContent-Length: 0\r\n\r\n")
	resp, body := upgraded(t, c)
	if !strings.HasPrefix(string(body), "net/http tcp=yes ") {
		t.Fatalf("a POST to the upgrade path: %d %q, want net/http to serve it", resp.StatusCode, body)
	}

	slow := rawDial(t, s, "GE")
	time.Sleep(50 * time.Millisecond) // the lane peeks at two bytes
	_, _ = io.WriteString(slow, "T /up?token=t HTTP/1.1\r\nHost: herald\r\n\r\n")
	resp, body = upgraded(t, slow)
	if !strings.HasPrefix(string(body), "net/http tcp=yes ") || !strings.Contains(string(body), " token=t ") {
		t.Fatalf("a slow upgrade request: %d %q, want net/http to serve it on the TCP connection", resp.StatusCode, body)
	}
}

// A request the lane cannot read is answered and closed as net/http answers
// it: 400 for a malformed header or a missing Host, 431 for a head past
// MaxHeaderBytes.
func TestLaneRefusesBadRequests(t *testing.T) {
	s := laneServer(t, echoUpgrade, nil)
	for name, c := range map[string]struct {
		req    string
		status int
	}{
		"malformed header": {"GET /up HTTP/1.1\r\nHost: herald\r\nno colon here\r\n\r\n", 400},
		"no Host":          {"GET /up HTTP/1.1\r\n\r\n", 400},
		"huge head":        {"GET /up HTTP/1.1\r\nHost: herald\r\nX-Big: " + strings.Repeat("x", heraldhttp.MaxHeaderBytes+8192) + "\r\n\r\n", 431},
	} {
		req := c.req
		conn := rawDial(t, s, "")
		go io.WriteString(conn, req) // the server may close before it has read it all
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.StatusCode != c.status || !resp.Close {
			t.Fatalf("%s: %d (close %v), want %d and close", name, resp.StatusCode, resp.Close, c.status)
		}
	}
}

// Shutdown waits for a handler the lane runs, and Serve returns nil.
func TestLaneShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := heraldhttp.NewServer(heraldhttp.Config{Addr: "127.0.0.1:0", APIKey: apiKey})
	s.HandleUpgrade("/up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late")
	}))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	busy := rawDial(t, s, "GET /up HTTP/1.1\r\nHost: herald\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a handler ran", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "late" {
		t.Fatalf("the busy request's answer: %q", body)
	}
}

// Connections that upgrade and go, as WebSocket clients that connect and
// leave, 16 at a time: dial, the request, the handler's hijack and 101,
// close. The same handler is mounted with HandleUpgrade (the lane) and with
// Handle (net/http); client and server share the process, so the
// difference between the two is the server's.
func BenchmarkUpgradeConnect(b *testing.B) {
	hijack := func(w http.ResponseWriter, r *http.Request) {
		nc, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		_ = nc.Close()
	}
	for _, lane := range []bool{true, false} {
		name := map[bool]string{true: "lane", false: "net-http"}[lane]
		b.Run(name, func(b *testing.B) {
			s := heraldhttp.NewServer(heraldhttp.Config{Addr: "127.0.0.1:0", APIKey: apiKey})
			if lane {
				s.HandleUpgrade("/up", http.HandlerFunc(hijack))
			} else {
				s.Handle("/up", http.HandlerFunc(hijack))
			}
			if err := s.Listen(); err != nil {
				b.Fatal(err)
			}
			go s.Serve()
			defer s.Shutdown(context.Background())
			req := []byte("GET /up?token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln&userId=u HTTP/1.1\r\nHost: herald\r\n" +
				"Upgrade: test\r\nConnection: Upgrade\r\nOrigin: http://localhost\r\nUser-Agent: bench\r\n\r\n")
			b.ReportAllocs()
			b.SetParallelism(8) // many clients at once, as a server sees them
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 512)
				for pb.Next() {
					c, err := net.Dial("tcp", s.Addr())
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					for got := 0; ; {
						n, err := c.Read(buf[got:])
						got += n
						if err != nil || strings.HasSuffix(string(buf[:got]), "\r\n\r\n") {
							break
						}
					}
					c.Close()
				}
			})
		})
	}
}

// A handler that aborts (http.ErrAbortHandler, which the server's own
// recovery passes on, as net/http expects) ends its connection, not the
// process, and the next connection is served.
func TestLaneHandlerAbortEndsTheConnectionOnly(t *testing.T) {
	s := laneServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("abort") != "" {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	}, nil)
	c := rawDial(t, s, "GET /up?abort=1 HTTP/1.1\r\nHost: herald\r\n\r\n")
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatalf("an aborted request read %d bytes, want the connection closed", n)
	}
	c = rawDial(t, s, "GET /up HTTP/1.1\r\nHost: herald\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "fine" {
		t.Fatalf("the next request: %d %q", resp.StatusCode, body)
	}
}
