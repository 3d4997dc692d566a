package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
)

// TestMain lets the test binary stand in for herald-bench: the pool starts
// os.Executable() as "worker", and the wslib command as "wslib-server".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		var run func(context.Context, []string) error
		switch os.Args[1] {
		case "worker":
			run = runWorker
		case "wslib-server":
			run = runWSLibServer
		}
		if run != nil {
			if err := run(context.Background(), os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	code := m.Run()
	pgtest.Stop() // the servers the cluster test started, if any
	redistest.Stop()
	if heraldBin != "" {
		os.RemoveAll(filepath.Dir(heraldBin))
	}
	os.Exit(code)
}

var testLoad = loadFlags{perWorker: 30, concurrency: 8, dialTimeout: 5 * time.Second, connectTime: 30 * time.Second}

// The idle measurement runs end to end against a real mini server: worker
// processes, real sockets, the server's own count and its RSS.
func TestIdleAgainstMiniServer(t *testing.T) {
	ctx := context.Background()
	res, err := measureLib(ctx, "gobwas", idleFlags{conns: 70, at: durationList{200 * time.Millisecond}}, testLoad)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ready.Connected != 70 || res.Ready.Failed != 0 {
		t.Fatalf("ready %+v, want 70 connected", res.Ready)
	}
	if len(res.Samples) != 1 || res.Samples[0].Conns != 70 {
		t.Fatalf("samples %+v, want one with 70 server connections", res.Samples)
	}
	if res.Samples[0].Memory.RSS <= 0 || res.Samples[0].Runtime.Goroutines < 70 {
		t.Fatalf("sample %+v: no RSS or too few goroutines", res.Samples[0])
	}
}

// channelServer imitates Herald's handshake: "connected" on upgrade,
// "subscribed" after the subscribe message. The test then writes to the
// connections itself.
type channelServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startChannelServer(t *testing.T) *channelServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &channelServer{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if _, err := ws.Upgrade(nc); err != nil {
					nc.Close()
					return
				}
				_ = wsutil.WriteServerText(nc, []byte(`{"type":"connected","userId":"u"}`))
				if _, err := wsutil.ReadClientText(nc); err != nil {
					nc.Close()
					return
				}
				_ = wsutil.WriteServerText(nc, []byte(`{"type":"subscribed","channel":"c"}`))
				s.mu.Lock()
				s.conns = append(s.conns, nc)
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

func (s *channelServer) waitConns(t *testing.T, n int) []net.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		got := append([]net.Conn(nil), s.conns...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections subscribed", len(got), n)
		}
	}
}

func send(t *testing.T, nc net.Conn, round, seq int) {
	t.Helper()
	if err := wsutil.WriteServerText(nc, fanoutBody(nil, round, seq, 64)); err != nil {
		t.Fatal(err)
	}
}

// The fan-out accounting across two workers: every expected message counted,
// "done" once all have arrived, repeats and messages of another round flagged.
func TestFanoutAccounting(t *testing.T) {
	ctx := context.Background()
	srv := startChannelServer(t)
	base := job{Mode: modeFanout, URL: "ws://" + srv.ln.Addr().String() + "/ws", JWTSecret: "test-secret",
		UserPrefix: "u", Channel: "c", Lifetime: time.Minute}
	p, err := startPool(base, 40, testLoad)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	ready, err := p.awaitReady(ctx, 30*time.Second)
	if err != nil || ready.Connected != 40 || len(p.workers) != 2 {
		t.Fatalf("ready %+v, %d workers, %v; want 40 connected on 2 workers", ready, len(p.workers), err)
	}
	conns := srv.waitConns(t, 40)

	// Round 1: three messages each, in order.
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 1, Expect: 3}, evArmed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for seq := range 3 {
		for _, nc := range conns {
			send(t, nc, 1, seq)
		}
	}
	if _, err := p.collectRound(ctx, evDone, 1, 10*time.Second); err != nil {
		t.Fatalf("round 1 not done: %v", err)
	}
	r := sumReports(t, p)
	if r.Received != 120 || r.Duplicates != 0 || r.Reordered != 0 || r.Stray != 0 || r.Latency.N != 120 {
		t.Fatalf("round 1: %+v, want 120 received and nothing else", r)
	}

	// Round 2: one connection gets a repeat and a message of round 1.
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 2, Expect: 2}, evArmed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	send(t, conns[0], 1, 5)
	send(t, conns[0], 2, 0)
	send(t, conns[0], 2, 0)
	for _, nc := range conns {
		if nc != conns[0] {
			send(t, nc, 2, 0)
		}
		send(t, nc, 2, 1)
	}
	if _, err := p.collectRound(ctx, evDone, 2, 10*time.Second); err != nil {
		t.Fatalf("round 2 not done: %v", err)
	}
	r = sumReports(t, p)
	if r.Received != 80 || r.Duplicates != 1 || r.Stray != 1 {
		t.Fatalf("round 2: %+v, want 80 received, 1 duplicate, 1 stray", r)
	}

	// Round 3: a message short on one connection is never done.
	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 3, Expect: 1}, evArmed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, nc := range conns[1:] {
		send(t, nc, 3, 0)
	}
	if _, err := p.collectRound(ctx, evDone, 3, 500*time.Millisecond); err == nil {
		t.Fatal("round 3 reported done with a message missing")
	}
}

type reportSum struct {
	Received, Duplicates, Reordered, Stray int64
	Latency                                latencySummary
}

func sumReports(t *testing.T, p *pool) reportSum {
	t.Helper()
	evs, err := p.request(context.Background(), command{Cmd: cmdReport}, evReport, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var s reportSum
	h := newHistogram()
	for _, e := range evs {
		s.Received += e.Received
		s.Duplicates += e.Duplicates
		s.Reordered += e.Reordered
		s.Stray += e.Stray
		h.merge(*e.Latency)
	}
	s.Latency = h.summary()
	return s
}
