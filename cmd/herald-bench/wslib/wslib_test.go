package wslib_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/heraldhq/herald/cmd/herald-bench/wslib"
)

// Every mini server must upgrade a real connection, count it while it is
// open, answer a ping with a pong and notice the client leaving.
func TestServersUpgradeAnswerPingsAndCount(t *testing.T) {
	for _, lib := range wslib.Libraries {
		t.Run(lib, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var live atomic.Int64
			go func() { _ = wslib.Serve(lib, ln, &live) }()
			if lib != "gws" { // gws's accept loop never returns; the test binary ends it
				defer ln.Close()
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, _, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/ws")
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			waitFor(t, func() bool { return live.Load() == 1 }, "the server to count the connection")

			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := wsutil.WriteClientMessage(nc, ws.OpPing, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			h, err := ws.ReadHeader(nc)
			if err != nil {
				t.Fatalf("reading the answer to a ping: %v", err)
			}
			if h.OpCode != ws.OpPong {
				t.Fatalf("answer to a ping has opcode %v, want pong", h.OpCode)
			}
			nc.Close()
			waitFor(t, func() bool { return live.Load() == 0 }, "the server to see the client leave")
		})
	}
}

func TestServeRefusesUnknownLibrary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := wslib.Serve("nope", ln, new(atomic.Int64)); err == nil {
		t.Fatal("Serve accepted an unknown library")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
