package http_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// discardPublisher accepts every message and keeps none, so that a
// benchmark's heap holds only what the server itself keeps.
type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, *herald.Message) (int, error) { return 1, nil }

// BenchmarkSendToUser measures the server API's hot request, a message to
// one user (POST /api/users/{userId}/messages), over one keep-alive loopback
// connection, request after request. The client writes prepared bytes and
// reads the answer into a reused buffer, so allocs/op is the server's:
// net/http's and Herald's per request. Run with -cpu 1 for one core's cost.
func BenchmarkSendToUser(b *testing.B) {
	e := newEnv(b, func(c *heraldhttp.Config) {
		c.Publisher = discardPublisher{}
		c.Logger = slog.New(slog.DiscardHandler)
	})
	body := `{"type":"custom","text":"hello from the benchmark"}`
	req := []byte(fmt.Sprintf("POST /api/users/user-1/messages HTTP/1.1\r\nHost: herald\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		apiKey, len(body), body))
	nc, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	buf := make([]byte, 256)
	read := func() {
		length := -1
		line, err := br.ReadSlice('\n')
		if err != nil || !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
			b.Fatalf("status line %q: %v", line, err)
		}
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if length < 0 || length > len(buf) {
			b.Fatalf("content length %d", length)
		}
		if _, err := io.ReadFull(br, buf[:length]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		read()
	}
}
