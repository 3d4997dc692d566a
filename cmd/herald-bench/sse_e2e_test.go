package main

import (
	"context"
	"testing"
)

// The fan-out over Server-Sent Events end to end: one real Herald on SQLite,
// subscribers holding GET /sse streams (--transport sse) with ?channel=:
// every subscriber gets every message, once and in order.
func TestFanoutOverSSE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Herald node")
	}
	o, err := parseFanout([]string{"--server-bin", buildHerald(t), "--server-log-level=error", "--transport=sse",
		"--subscribers=30", "--messages=6", "--rounds=2", "--pause=100ms", "--per-worker=20", "--dial-concurrency=8"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := measureFanout(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ready.Connected != 30 {
		t.Fatalf("ready %+v, want 30 streams", res.Ready)
	}
	for _, r := range res.Rounds {
		if r.Expected != 180 || r.Deliveries != 180 || r.Loss != 0 || r.Duplicates != 0 || r.Reordered != 0 || r.Stray != 0 || r.TimedOut {
			t.Fatalf("round %d: %+v; want 180 deliveries and nothing lost, repeated, reordered or stray", r.Round, r)
		}
	}
}
