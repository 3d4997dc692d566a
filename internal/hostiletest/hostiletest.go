// Package hostiletest sends hostile HTTP requests over raw TCP, as no
// well-behaved client would: bodies that lie about their length, chunked
// bodies that never end, megabytes of nesting, broken UTF-8. The suites of
// http and cmd/herald run its cases against every route and check each
// answer is a documented JSON error and that the server allocated no more
// than a small bound while giving it.
package hostiletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Route is one route under test: how to reach it and a body it accepts.
type Route struct {
	Method, Path string
	// Auth is the Authorization header value ("" for none).
	Auth string
	// Body is a well-formed body the route accepts ("" for routes that
	// take none); the hostile cases are variations of it.
	Body string
	// Limit is the route's documented body limit.
	Limit int64
	// Opaque marks a route that passes any JSON object through (the
	// message routes): duplicate names and giant numbers are its caller's
	// business, and it answers them 2xx.
	Opaque bool
	// OptionalBody marks a route whose body may be left out (logout, with a
	// bearer token instead): an empty one is then no error in itself.
	OptionalBody bool
	// Foreign marks a handler whose own errors are not Herald's JSON (the
	// WebSocket upgrade, which answers a malformed handshake the way its
	// library does): only the limits ServeHTTP applies before it are
	// checked for status and shape; otherwise any answer below 500 passes.
	Foreign bool
	// Work is what the route's legitimate work may allocate besides the
	// body, such as a login's password hash (argon2id's 19 MiB).
	Work uint64
}

// Case is one hostile request for a route.
type Case struct {
	Name string
	// Header holds extra headers; Content-Type defaults to application/json.
	Header map[string]string
	// Body is sent as is, unless Stream is set.
	Body string
	// Stream, when set, is the body: Length bytes of it, chunked when
	// Chunked, else with a Content-Length of Declared (or Length).
	Stream   func() io.Reader
	Length   int64
	Chunked  bool
	Declared int64 // the Content-Length claimed, when it lies; 0: the truth
	// HalfClose ends the client's side after the body, so a server waiting
	// for bytes the Content-Length promised sees EOF. Without it the
	// connection stays open and silent.
	HalfClose bool
	// Slow marks a case the server answers only when its request timeout
	// ends (a body promised and never sent); suites whose server has the
	// default 30 s timeout leave it out.
	Slow bool
	// Want is the status the route must answer; 0 accepts any answer below
	// 500 that is 2xx or a JSON error.
	Want int
	// Code is the error code Want carries ("" for 2xx or any).
	Code string
}

// Repeat returns a reader of n bytes repeating pattern, allocating nothing
// per byte, for bodies far larger than any limit.
func Repeat(pattern string, n int64) io.Reader {
	return io.LimitReader(&cycle{p: []byte(pattern)}, n)
}

type cycle struct {
	p []byte
	i int
}

func (c *cycle) Read(b []byte) (int, error) {
	for n := range b {
		b[n] = c.p[c.i]
		c.i = (c.i + 1) % len(c.p)
	}
	return len(b), nil
}

// Cases returns the hostile cases for rt. Routes with a body get every
// malformed, truncated, oversized, deep, length-lying and mistyped form of
// it; routes without one get only what any request may carry (an oversized
// or endless body), which they must bound as well.
func Cases(rt Route) []Case {
	big := max(rt.Limit*4, 16<<20) // far past the limit and the bound on allocation
	deepStatus, deepCode := 413, "too_large"
	if rt.Limit >= 200000 && rt.Body != "" {
		deepStatus, deepCode = 400, "invalid" // fits: refused for its depth
	}
	cases := []Case{
		{Name: "Content-Length far beyond the limit, small body", Body: `{}`, Declared: 1 << 40, Want: 413, Code: "too_large"},
		{Name: "Content-Length one past the limit", Stream: func() io.Reader { return Repeat(" ", rt.Limit+1) }, Length: rt.Limit + 1, Want: 413, Code: "too_large"},
		{Name: "chunked body far past the limit", Stream: func() io.Reader { return Repeat("[", big) }, Length: big, Chunked: true},
		{Name: "JSON nested 100k deep", Stream: func() io.Reader {
			return io.MultiReader(Repeat("[", 100000), Repeat("]", 100000))
		}, Length: 200000, Want: deepStatus, Code: deepCode},
	}
	if rt.Body == "" {
		return cases // a route that reads no body answers the chunked one as usual
	}
	cases[2].Want, cases[2].Code = 413, "too_large"
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	dup := strings.Replace(rt.Body, "{", `{"dup":1,"DUP":2,`, 1)
	cases = append(cases,
		Case{Name: "malformed", Body: `{"a":`, Want: 400, Code: "invalid"},
		Case{Name: "truncated", Body: rt.Body[:len(rt.Body)/2], Want: 400, Code: "invalid"},
		Case{Name: "empty", Body: " ", Want: map[bool]int{true: 0, false: 400}[rt.OptionalBody], Code: map[bool]string{true: "", false: "invalid"}[rt.OptionalBody]},
		Case{Name: "not an object", Body: `[` + rt.Body + `]`, Want: 400, Code: "invalid"},
		Case{Name: "trailing data", Body: rt.Body + rt.Body, Want: 400, Code: "invalid"},
		Case{Name: "nested 40 deep", Body: strings.Replace(rt.Body, "{", `{"deep":`+deep+`,`, 1), Want: 400, Code: "invalid"},
		Case{Name: "invalid UTF-8", Body: strings.Replace(rt.Body, "{", "{\"x\":\"\xff\xfe\",", 1), Want: 400, Code: "invalid"},
		Case{Name: "giant number", Body: strings.Replace(rt.Body, "{", `{"n":1e999999,"m":`+strings.Repeat("9", 5000)+`,`, 1)},
		Case{Name: "wrong Content-Type", Body: rt.Body, Header: map[string]string{"Content-Type": "text/plain"}, Want: 415, Code: "unsupported"},
		Case{Name: "form Content-Type", Body: rt.Body, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Want: 415, Code: "unsupported"},
		Case{Name: "Content-Length beyond the body, then EOF", Body: rt.Body, Declared: int64(len(rt.Body)) + 100, HalfClose: true, Want: 400, Code: "invalid"},
		Case{Name: "Content-Length beyond the body, then silence", Body: rt.Body, Declared: int64(len(rt.Body)) + 100, Slow: true, Want: 400, Code: "invalid"},
	)
	if rt.Opaque {
		cases = append(cases, Case{Name: "duplicate names", Body: dup})
	} else {
		cases = append(cases, Case{Name: "duplicate names", Body: dup, Want: 400, Code: "invalid"})
	}
	return cases
}

// Response is an answer read from the wire.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrorCode returns the code of a JSON error answer, or an error saying why
// the body is not one.
func (r Response) ErrorCode() (string, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return "", fmt.Errorf("Content-Type %q", ct)
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		return "", fmt.Errorf("not an error body: %.200q", r.Body)
	}
	return b.Error.Code, nil
}

// Check reports how resp, the answer of rt, fails c's expectation, or nil.
func (c Case) Check(rt Route, resp Response) error {
	if rt.Foreign && c.Want != 413 {
		c.Want, c.Code = 0, ""
		if resp.Status >= 500 {
			return fmt.Errorf("status %d; body %.200q", resp.Status, resp.Body)
		}
		return nil
	}
	switch {
	case c.Want != 0 && resp.Status != c.Want:
		return fmt.Errorf("status %d, want %d; body %.200q", resp.Status, c.Want, resp.Body)
	case resp.Status >= 500:
		return fmt.Errorf("status %d; body %.200q", resp.Status, resp.Body)
	case resp.Status < 400:
		return nil
	}
	code, err := resp.ErrorCode()
	if err != nil {
		return err
	}
	if c.Code != "" && code != c.Code {
		return fmt.Errorf("code %q, want %q", code, c.Code)
	}
	return nil
}

// Send writes c to addr as a request for rt over a fresh TCP connection and
// reads the answer. timeout bounds the whole exchange.
//
// A server that refuses a body it has not read closes the connection with
// bytes still unread, and the kernel then resets it; net/http waits half a
// second first so that the client can read the answer, but on a loaded
// machine the reset may still win. A case with a body past the limit is
// therefore sent again, twice at most, when its answer is lost to a reset.
func Send(addr string, rt Route, c Case, timeout time.Duration) (Response, error) {
	resp, err := send(addr, rt, c, timeout)
	for try := 0; try < 2 && err != nil && (c.Chunked || c.Length > rt.Limit) && errors.Is(err, syscall.ECONNRESET); try++ {
		resp, err = send(addr, rt, c, timeout)
	}
	return resp, err
}

func send(addr string, rt Route, c Case, timeout time.Duration) (Response, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))

	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", rt.Method, rt.Path, addr)
	if rt.Auth != "" {
		fmt.Fprintf(&head, "Authorization: %s\r\n", rt.Auth)
	}
	if _, ok := c.Header["Content-Type"]; !ok {
		head.WriteString("Content-Type: application/json\r\n")
	}
	for k, v := range c.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	body := io.Reader(strings.NewReader(c.Body))
	length := int64(len(c.Body))
	if c.Stream != nil {
		body, length = c.Stream(), c.Length
	}
	switch {
	case c.Chunked:
		head.WriteString("Transfer-Encoding: chunked\r\n")
	case c.Declared != 0:
		fmt.Fprintf(&head, "Content-Length: %d\r\n", c.Declared)
	default:
		fmt.Fprintf(&head, "Content-Length: %d\r\n", length)
	}
	head.WriteString("Connection: close\r\n\r\n")

	// The body goes out while the answer is read: a server that refuses
	// early stops reading, and the writer then fails, which is fine.
	go func() {
		w := bufio.NewWriterSize(conn, 32<<10)
		if _, err := w.Write(head.Bytes()); err != nil {
			return
		}
		if c.Chunked {
			buf := make([]byte, 16<<10)
			for {
				n, err := body.Read(buf)
				if n > 0 {
					fmt.Fprintf(w, "%x\r\n", n)
					w.Write(buf[:n])
					if _, werr := w.WriteString("\r\n"); werr != nil {
						return
					}
				}
				if err != nil {
					break
				}
			}
			w.WriteString("0\r\n\r\n")
		} else if _, err := io.Copy(w, body); err != nil {
			return
		}
		if w.Flush() != nil {
			return
		}
		if c.HalfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return Response{}, fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, fmt.Errorf("reading the answer's body: %w", err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Allocated returns how many bytes the process allocated while f ran: the
// server's share of it, when the server runs in the same process and the
// client streams its bodies. Unlike the heap's size after the fact, it
// counts what was allocated and already freed, which is where a server that
// reads a whole body before refusing it shows.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Bound is the allocation a case for rt may cost: the route's limit three
// times over (a body read whole, grown by doubling, then decoded), its
// Work, and room for the server's and the test's own work.
func Bound(rt Route) uint64 {
	return uint64(3*rt.Limit) + rt.Work + 4<<20
}
