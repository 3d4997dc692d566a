package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

// runNotifyJSON runs the notify command with args and --json, and decodes
// what it prints.
func runNotifyJSON(t *testing.T, args ...string) notifyResult {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "notify-*.json")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out
	err = runNotify(context.Background(), append(args, "--json"))
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	var res notifyResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("notify printed %q: %v", b, err)
	}
	return res
}

// Batches of notifications end to end against a real Herald on SQLite: every
// notification of every batch is counted once, stored (201) and received by
// its user's client, including a last batch cut short by --count.
func TestNotifyInBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Herald node")
	}
	const count, batch = 230, 25 // 9 full batches and one of 5
	res := runNotifyJSON(t, "--server-bin", buildHerald(t), "--server-log-level=error",
		"--users=20", "--concurrency=3", "--batch="+strconv.Itoa(batch), "--count="+strconv.Itoa(count),
		"--rounds=2", "--pause=100ms", "--per-worker=20", "--dial-concurrency=8", "--drain-timeout=10s")
	if res.Batch != batch || res.Ready.Connected != 20 || len(res.Rounds) != 2 {
		t.Fatalf("result %+v; want batch %d, 20 users connected, 2 rounds", res, batch)
	}
	for _, r := range res.Rounds {
		if r.Created != count || r.Failed != 0 || r.Delivered != count || r.Loss != 0 || r.PerSecond <= 0 {
			t.Fatalf("round %d: %+v; want %d created and delivered, none failed or lost", r.Round, r, count)
		}
		// Each request is read and answered, each notification written to
		// its user's socket and to the database's log: the server made
		// system calls of both kinds for the round.
		if r.ReadCalls <= 0 || r.WriteCalls <= 0 {
			t.Fatalf("round %d: %.2f reads and %.2f writes per notification; want both above 0", r.Round, r.ReadCalls, r.WriteCalls)
		}
		// The store's commit metrics, read through /metrics with the API
		// key: every notification of the round committed, each request's
		// batch whole in one commit (so at least 5 per commit).
		if r.Committed != count || r.PerCommit < 5 || r.WriterBusy <= 0 || r.WriterBusy > 1 {
			t.Fatalf("round %d: %d committed, %.1f per commit, writer busy %.2f; want %d, at least 5, in (0, 1]",
				r.Round, r.Committed, r.PerCommit, r.WriterBusy, count)
		}
	}
}

// A batch outside the server's bounds is refused before anything starts.
func TestNotifyRejectsBadBatch(t *testing.T) {
	for _, b := range []string{"0", "1001"} {
		if err := runNotify(context.Background(), []string{"--batch", b}); err == nil {
			t.Errorf("--batch %s accepted", b)
		}
	}
}
