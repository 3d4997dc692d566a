package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// versusTestOptions are tiny versus workloads: 20 idle subscribers, 4 churn
// loops for a second, 20 unicast users with 4 senders; servers not pinned.
func versusTestOptions(heraldBin, cfBin string) *versusOptions {
	lf := testLoad
	return &versusOptions{lf: lf, heraldBin: heraldBin, cfBin: cfBin, uniUsers: 20, uniEach: 3, uniInflight: 4,
		churnInflight: 4, churnBase: 20, churnDuration: time.Second, churnSettle: 5 * time.Second,
		msgs: 5, rounds: 1, payload: 128, pause: 100 * time.Millisecond, roundTimeout: 10 * time.Second, logLevel: "error"}
}

// checkChurn fails t unless the churn sample's attempts split as the
// workload makes them (2 bad, 1 dropped, 2 clean of every five, every bad
// token refused as the protocol says, every good one accepted), nothing
// was unexpected, and the server came back to its 20 base connections,
// each of which got the message published after the churn.
func checkChurn(t *testing.T, s versusSample) {
	t.Helper()
	c := s.Churn
	if c == nil {
		t.Fatalf("sample %+v has no churn figures", s)
	}
	t.Logf("%s: %d attempts in %s (%.0f/s): %d clean, %d dropped, %d refused, %d unexpected %s; settled %v in %s, leak %d, subs leak %d, %d/%d delivered",
		s.Server, c.Attempts, c.Took, c.AttemptsPerSec, c.Clean, c.Dropped, c.Refused, c.Unexpected, c.errorList(),
		c.Settled, c.SettleTook, c.Leak, c.SubsLeak, s.Deliveries, s.Expected)
	if s.Connected != 20 || s.Inflight != 4 || c.Attempts < 20 {
		t.Fatalf("%d base connections, %d loops, %d attempts; want 20, 4 and at least 20", s.Connected, s.Inflight, c.Attempts)
	}
	if c.Unexpected != 0 {
		t.Fatalf("unexpected outcomes: %s", c.errorList())
	}
	// One worker: its attempts are numbered 0..Attempts-1.
	n := c.Attempts
	bad, drop := 2*(n/5)+min(n%5, 2), n/5+min(max(n%5-2, 0), 1)
	if c.Bad != bad || c.Refused != bad || c.Dropped != drop || c.Clean != n-bad-drop || c.Accepted != n-bad {
		t.Fatalf("split %+v; want %d bad all refused, %d dropped, %d clean", c.churnCounts, bad, drop, n-bad-drop)
	}
	if !c.Settled || c.Leak != 0 || c.SubsLeak != 0 || c.BaseDropped != 0 || c.ConnsAfter != 20 {
		t.Fatalf("after the churn: settled %v, %d connections (leak %d, subscriptions leak %d), %d base dropped; want 20 and none",
			c.Settled, c.ConnsAfter, c.Leak, c.SubsLeak, c.BaseDropped)
	}
	if s.Expected != 20 || s.Deliveries != 20 || s.Loss != 0 || s.Duplicates != 0 || s.TimedOut {
		t.Fatalf("after the churn: %d/%d delivered, loss %d, duplicates %d, timed out %v; want 20/20",
			s.Deliveries, s.Expected, s.Loss, s.Duplicates, s.TimedOut)
	}
}

// checkConcurrentUnicast fails t unless every one of the 60 sends of 4
// senders reached its user once.
func checkConcurrentUnicast(t *testing.T, s versusSample) {
	t.Helper()
	if s.Inflight != 4 || s.Connected != 20 || s.Sends != 60 || s.Expected != 60 || s.Deliveries != 60 ||
		s.Loss != 0 || s.Duplicates != 0 || s.TimedOut || s.SendsPerSec <= 0 {
		t.Fatalf("concurrent unicast: %+v; want 4 senders, 60 sends, 60 deliveries, nothing lost or repeated", s)
	}
}

// The churn workload and the concurrent unicast end to end against a real
// Herald on SQLite.
func TestVersusChurnAndConcurrentUnicastOnHerald(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Herald")
	}
	checkChurnAndConcurrentUnicast(t, versusTestOptions(buildHerald(t), ""), serverHerald)
}

// checkChurnAndConcurrentUnicast runs the churn and the concurrent unicast
// workloads on server and checks both.
func checkChurnAndConcurrentUnicast(t *testing.T, o *versusOptions, server string) {
	t.Helper()
	ctx := context.Background()
	s, err := versusChurn(ctx, o, server, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkChurn(t, s)
	s, err = versusOnce(ctx, o, server, workloadUnicastConc, o.uniUsers, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkConcurrentUnicast(t, s)
}

// centrifugoBin is the Centrifugo v6 binary of the versus tests:
// $HERALD_BENCH_CENTRIFUGO, or /tmp/centrifugo/centrifugo where the
// benchmarks put it.
func centrifugoBin(t *testing.T) string {
	bin := os.Getenv("HERALD_BENCH_CENTRIFUGO")
	if bin == "" {
		bin = "/tmp/centrifugo/centrifugo"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no Centrifugo binary at %s (set HERALD_BENCH_CENTRIFUGO to a Centrifugo v6 binary): %v", bin, err)
	}
	return bin
}

// The same against Centrifugo, when its binary is there: its refusal of a
// bad token (disconnect 3500), its own counts after the churn
// (/api/info), and publishing to personal channels from 4 senders.
func TestVersusChurnAndConcurrentUnicastOnCentrifugo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Centrifugo")
	}
	checkChurnAndConcurrentUnicast(t, versusTestOptions("", centrifugoBin(t)), serverCentrifugo)
}
