package main

import (
	"context"
	"testing"
	"time"
)

// versusTestOptions are tiny versus workloads: 20 unicast users with 4
// senders; servers not pinned.
func versusTestOptions(heraldBin, cfBin string) *versusOptions {
	lf := testLoad
	return &versusOptions{lf: lf, heraldBin: heraldBin, cfBin: cfBin, uniUsers: 20, uniEach: 3, uniInflight: 4,
		msgs: 5, rounds: 1, payload: 128, pause: 100 * time.Millisecond, roundTimeout: 10 * time.Second, logLevel: "error"}
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

// The concurrent unicast end to end against a real Herald on SQLite.
func TestVersusConcurrentUnicastOnHerald(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Herald")
	}
	o := versusTestOptions(buildHerald(t), "")
	s, err := versusOnce(context.Background(), o, serverHerald, workloadUnicastConc, o.uniUsers, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkConcurrentUnicast(t, s)
}
