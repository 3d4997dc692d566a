package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseFanoutNodeFlags(t *testing.T) {
	pg, rd := "--database-url=postgres://x@127.0.0.1:1/db", "--redis-url=redis://127.0.0.1:1/0"
	for _, tc := range []struct {
		args  []string
		nodes int    // when valid
		err   string // part of the error, when not
	}{
		{args: nil, nodes: 1},
		{args: []string{"--nodes=3", pg, rd}, nodes: 3},
		{args: []string{"--nodes=3", pg, rd, "--send-via=rotate"}, nodes: 3},
		{args: []string{"--nodes=3", pg, rd, "--send-via=2"}, nodes: 3},
		{args: []string{"--server-pid=1", "--addrs=127.0.0.1:1,127.0.0.1:2", "--server-pid=1"}, nodes: 2},
		{args: []string{"--server-pid=1,1,1", "--addrs=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"}, nodes: 3},
		{args: []string{"--server-pid=1", "--addr=127.0.0.1:1"}, nodes: 1},
		{args: []string{"--nodes=3", pg}, err: "--redis-url"},
		{args: []string{"--nodes=3", rd}, err: "--database-url"},
		{args: []string{"--nodes=0"}, err: "at least 1"},
		{args: []string{"--nodes=3", pg, rd, "--send-via=3"}, err: "node index from 0 to 2"},
		{args: []string{"--nodes=3", pg, rd, "--send-via=first"}, err: "rotate"},
		{args: []string{"--nodes=3", pg, rd, "--addr=127.0.0.1:1"}, err: "free loopback port"},
		{args: []string{"--addrs=127.0.0.1:1,127.0.0.1:2"}, err: "--server-pid"},
		{args: []string{"--server-pid=1", "--addrs=127.0.0.1:1,127.0.0.1:2"}, err: "1 --server-pid for 2"},
		{args: []string{"--server-pid=1", "--nodes=2"}, err: "choose one"},
		{args: []string{"--server-pid=1", "--addr=127.0.0.1:1", "--addrs=127.0.0.1:2"}, err: "not both"},
		{args: []string{"--server-pid=x"}, err: "not a process id"},
		{args: []string{"--server-pid=-4"}, err: "not a process id"},
		{args: []string{"--addrs=nohostport", "--server-pid=1"}, err: "nohostport"},
		{args: []string{"extra"}, err: "unexpected argument"},
		{args: []string{"--nodes=3", pg, "--redis-url=redis-cluster://127.0.0.1:1,127.0.0.1:2", "--redis-pid=1,2", "--redis-pid=3"}, nodes: 3},
		{args: []string{"--redis-pid=0"}, err: "not a process id"},
		{args: []string{"--channels=3", "--messages=100"}, err: "multiple of --channels"},
		{args: []string{"--channels=3", "--messages=99", "--subscribers=2"}, err: "at least --channels"},
		{args: []string{"--channels=0"}, err: "must be positive"},
	} {
		o, err := parseFanout(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseFanout(%q) = %v, want an error with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFanout(%q): %v", tc.args, err)
			continue
		}
		if n, _ := checkNodes(&o.sf, &o.cf); n != tc.nodes {
			t.Errorf("parseFanout(%q): %d nodes, want %d", tc.args, n, tc.nodes)
		}
	}
}

func TestSendPlan(t *testing.T) {
	one, _ := parseSendVia("1", 3)
	rot, _ := parseSendVia("rotate", 3)
	for seq, want := range []int{0, 1, 2, 0, 1} {
		if got := rot.via(seq, 3); got != want {
			t.Errorf("rotate: message %d via node %d, want %d", seq, got, want)
		}
		if got := one.via(seq, 3); got != 1 {
			t.Errorf("--send-via 1: message %d via node %d", seq, got)
		}
	}
}

// Subscribers spread round-robin over two servers; the workers count what
// each node's connections receive, and a message overtaken by a later one
// counts as reordered, neither lost nor repeated.
func TestFanoutAccountingByNode(t *testing.T) {
	ctx := context.Background()
	a, b := startChannelServer(t), startChannelServer(t)
	base := job{Mode: modeFanout, URLs: []string{"ws://" + a.ln.Addr().String() + "/ws", "ws://" + b.ln.Addr().String() + "/ws"},
		JWTSecret: "test-secret", UserPrefix: "u", Channel: "c", Lifetime: time.Minute}
	p, err := startPool(base, 41, testLoad)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	ready, err := p.awaitReady(ctx, 30*time.Second)
	if err != nil || ready.Connected != 41 || len(p.workers) != 2 {
		t.Fatalf("ready %+v, %d workers, %v; want 41 connected on 2 workers", ready, len(p.workers), err)
	}
	if len(ready.NodeConnected) != 2 || ready.NodeConnected[0] != 21 || ready.NodeConnected[1] != 20 {
		t.Fatalf("connections by node %v, want [21 20]", ready.NodeConnected)
	}
	onA, onB := a.waitConns(t, 21), b.waitConns(t, 20)

	if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 1, Expect: 3}, evArmed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, nc := range onA { // in order
		for seq := range 3 {
			send(t, nc, 1, seq)
		}
	}
	for i, nc := range onB { // the first connection gets 1 before 0, and a seq out of range
		order := []int{0, 1, 2}
		if i == 0 {
			order = []int{1, 0, 2, 3}
		}
		for _, seq := range order {
			send(t, nc, 1, seq)
		}
	}
	if _, err := p.collectRound(ctx, evDone, 1, 10*time.Second); err != nil {
		t.Fatalf("round 1 not done: %v", err)
	}
	evs, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var received, reordered, dup, stray int64
	byNode := make([]int64, 2)
	latN := make([]int64, 2)
	for _, e := range evs {
		received += e.Received
		reordered += e.Reordered
		dup += e.Duplicates
		stray += e.Stray
		if len(e.NodeReceived) != 2 || len(e.NodeLatency) != 2 {
			t.Fatalf("worker %d reports %d node counts and %d node histograms, want 2", e.Worker, len(e.NodeReceived), len(e.NodeLatency))
		}
		for i := range 2 {
			byNode[i] += e.NodeReceived[i]
			latN[i] += e.NodeLatency[i].N
		}
	}
	if received != 123 || reordered != 1 || dup != 0 || stray != 1 {
		t.Fatalf("received %d, reordered %d, duplicates %d, stray %d; want 123, 1, 0, 1", received, reordered, dup, stray)
	}
	if byNode[0] != 63 || byNode[1] != 60 || latN[0] != 63 || latN[1] != 60 {
		t.Fatalf("by node: received %v, latencies %v; want [63 60] both", byNode, latN)
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Attaching to a node that does not run fails with a clear error naming the
// node, before any connection is opened.
func TestFanoutAttachChecksEveryNode(t *testing.T) {
	o, err := parseFanout([]string{"--server-pid=999999999,1", "--addrs=" + freeAddr(t) + "," + freeAddr(t),
		"--api-key=k", "--jwt-secret=s", "--subscribers=2", "--messages=1", "--rounds=1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = measureFanout(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "node 0: no process 999999999") {
		t.Fatalf("measureFanout = %v, want node 0 refused as not running", err)
	}
}
