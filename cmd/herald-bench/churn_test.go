package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The attempt kinds: exactly 2 bad, 1 dropped and 2 clean in every five
// attempts, and drops alternating between a reset and a FIN.
func TestChurnKindSplit(t *testing.T) {
	var kinds [3]int
	var rst int
	for n := range int64(1000) {
		k := churnKindOf(n)
		kinds[k]++
		if k == churnDrop && churnRST(n) {
			rst++
		}
	}
	if kinds[churnBad] != 400 || kinds[churnDrop] != 200 || kinds[churnClean] != 400 {
		t.Fatalf("kinds of 1000 attempts: bad %d, drop %d, clean %d; want 400, 200, 400", kinds[churnBad], kinds[churnDrop], kinds[churnClean])
	}
	if rst != 100 {
		t.Fatalf("%d of 200 drops reset; want 100", rst)
	}
}

// Attempts of different workers never share a user, and stay above the
// base connections.
func TestChurnIndexesAreDisjoint(t *testing.T) {
	seen := map[int]bool{}
	for w := range 3 {
		j := &job{Worker: w, First: 1000 + 64*w}
		for n := range int64(5000) {
			idx := churnIndex(j, n)
			if idx < 1000 || seen[idx] {
				t.Fatalf("worker %d attempt %d: index %d below the base or taken", w, n, idx)
			}
			seen[idx] = true
		}
	}
}

func TestExpectedRefusal(t *testing.T) {
	for _, c := range []struct {
		proto string
		r     refusal
		want  bool
	}{
		{"", refusal{Close: 4002}, true},
		{"", refusal{Close: 4001}, false},
		{"", refusal{Close: 1008}, false},
		{protoCentrifugo, refusal{Close: 3500, Detail: `{"reason":"invalid token","reconnect":false}`}, true},
		{protoCentrifugo, refusal{Close: 4002}, false},
		{protoCentrifugo, refusal{Code: 101, Detail: "unauthorized"}, false},
	} {
		if got := expectedRefusal(c.proto, &c.r); got != c.want {
			t.Errorf("expectedRefusal(%q, %v) = %v; want %v", c.proto, &c.r, got, c.want)
		}
	}
}

// Every attempt lands in exactly one count; unexpected outcomes are kept by
// kind and sum across workers.
func TestChurnCounts(t *testing.T) {
	var a, b churnCounts
	a.count(churnOutcome{kind: churnBad, ok: true})
	a.count(churnOutcome{kind: churnBad, unexpected: "bad token accepted"})
	a.count(churnOutcome{kind: churnDrop, ok: true})
	a.count(churnOutcome{kind: churnClean, ok: true})
	a.count(churnOutcome{kind: churnClean, unexpected: "dial: HTTP 429"})
	a.Took = time.Second
	b.count(churnOutcome{kind: churnClean, unexpected: "dial: HTTP 429"})
	b.count(churnOutcome{kind: churnClean, ok: true})
	b.Took = 2 * time.Second
	a.add(&b)
	want := churnCounts{Attempts: 7, Bad: 2, Accepted: 3, Clean: 2, Dropped: 1, Refused: 1, Unexpected: 3, Took: 2 * time.Second,
		Errors: map[string]int{"bad token accepted": 1, "dial: HTTP 429": 2}}
	if fmt.Sprint(a) != fmt.Sprint(want) {
		t.Fatalf("counts %+v; want %+v", a, want)
	}
	if a.Clean+a.Dropped+a.Refused+a.Unexpected != a.Attempts {
		t.Fatalf("outcomes do not add up to the attempts: %+v", a)
	}
	if got := a.errorList(); got != "2× dial: HTTP 429; 1× bad token accepted" {
		t.Fatalf("errorList = %q", got)
	}
	if got := (&churnCounts{}).errorList(); got != "-" {
		t.Fatalf("errorList of none = %q", got)
	}
}

// awaitClose skips data frames still in flight and returns the close
// frame's code; a connection that ends first is an error.
func TestAwaitClose(t *testing.T) {
	c, srv := cfPipe(t)
	go func() {
		_ = wsutil.WriteServerText(srv, []byte(`{"type":"bench","seq":1}`))
		_ = wsutil.WriteServerMessage(srv, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	}()
	code, err := c.awaitClose()
	if err != nil || code != 1000 {
		t.Fatalf("awaitClose = %d, %v; want 1000", code, err)
	}

	c, srv = cfPipe(t)
	go func() {
		_ = wsutil.WriteServerText(srv, []byte(`{}`))
		srv.Close()
	}()
	if _, err := c.awaitClose(); !errors.Is(err, io.EOF) {
		t.Fatalf("awaitClose on a connection that ends = %v; want EOF", err)
	}
}

// A Herald refusal after the upgrade carries its close code, and the
// handshake echoes the close frame.
func TestHeraldHandshakeRefusal(t *testing.T) {
	c, srv := cfPipe(t)
	echo := make(chan int, 1)
	go func() {
		_ = wsutil.WriteServerMessage(srv, ws.OpClose, ws.NewCloseFrameBody(4002, "Invalid or expired token"))
		f, err := ws.ReadFrame(srv)
		if err != nil || f.Header.OpCode != ws.OpClose {
			echo <- -1
			return
		}
		f = ws.UnmaskFrameInPlace(f)
		echo <- closeCode(f.Payload)
	}()
	err := c.heraldHandshake("bench")
	var r *refusal
	if !errors.As(err, &r) || r.Close != 4002 || !errors.Is(err, errRefused) || !expectedRefusal("", r) {
		t.Fatalf("heraldHandshake = %v; want a refusal with close 4002", err)
	}
	if got := <-echo; got != 4002 {
		t.Fatalf("close echoed with %d; want 4002", got)
	}
	if got := churnErrorKind(err); got != "close 4002" {
		t.Fatalf("churnErrorKind = %q", got)
	}
}

func TestChurnErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("dial: %w", ws.StatusError(429)):                  "HTTP 429",
		&refusal{Code: 109, Detail: "token expired"}:                 "error 109",
		fmt.Errorf("read: %w", io.ErrUnexpectedEOF):                  "EOF",
		errors.New("dial tcp 127.0.1.2:0->127.0.0.1:1: i/o timeout"): "i/o timeout",
	} {
		if got := churnErrorKind(err); got != want {
			t.Errorf("churnErrorKind(%v) = %q; want %q", err, got, want)
		}
	}
}

func TestParseCentrifugoInfo(t *testing.T) {
	body := `{"result":{"nodes":[{"uid":"a1","name":"n","version":"6.9.1","num_clients":1020,"num_users":1020,"num_channels":1,"num_subs":1019,"uptime":7}]}}`
	clients, subs, err := parseCFInfo([]byte(body))
	if err != nil || clients != 1020 || subs != 1019 {
		t.Fatalf("parseCFInfo = %d, %d, %v; want 1020, 1019", clients, subs, err)
	}
	if _, _, err := parseCFInfo([]byte(`{"error":{"code":101,"message":"unauthorized"}}`)); err == nil || !strings.Contains(err.Error(), "101") {
		t.Fatalf("parseCFInfo of an error = %v", err)
	}
	if _, _, err := parseCFInfo([]byte(`{"result":{}}`)); err == nil {
		t.Fatal("parseCFInfo without nodes: no error")
	}
}

// The table gets a row for concurrent unicast and one for churn, each from
// its own samples' medians.
func TestVersusRowsChurnAndConcurrentUnicast(t *testing.T) {
	res := &versusResult{UnicastUsers: 100, UniInflight: 8, ChurnInflight: 4, ChurnBase: 20}
	for i, v := range []float64{100, 300, 200} {
		// I/O system calls: 3,000 per 1,000 operations for Herald, 4,000 for
		// Centrifugo, in the middle sample (v = 200).
		calls := func(per float64) ioCalls {
			return ioCalls{Reads: int64(per * v / 2 * 5), Writes: int64(per * v / 2 * 5)}
		}
		res.Samples = append(res.Samples,
			// 1,000 sends, or attempts, in each sample; server CPU in ms
			// is then µs per operation.
			versusSample{Server: serverHerald, Workload: workloadUnicast, Subscribers: 100, SendsPerSec: v, Sends: 1000, ServerCPU: ms(v / 10), ServerIO: calls(3)},
			versusSample{Server: serverCentrifugo, Workload: workloadUnicast, Subscribers: 100, SendsPerSec: v / 2, Sends: 1000, ServerCPU: ms(v / 5), ServerIO: calls(4)},
			versusSample{Server: serverHerald, Workload: workloadUnicastConc, Subscribers: 100, Inflight: 8, SendsPerSec: 10 * v, Sends: 1000, ServerCPU: ms(v / 20), ServerIO: calls(3)},
			versusSample{Server: serverCentrifugo, Workload: workloadUnicastConc, Subscribers: 100, Inflight: 8, SendsPerSec: 5 * v, Sends: 1000, ServerCPU: ms(v / 10), ServerIO: calls(4)},
			versusSample{Server: serverHerald, Workload: workloadChurn, Subscribers: 20, Round: i, ServerCPU: ms(v / 2), ServerIO: calls(3), Churn: &churnSample{AttemptsPerSec: 3 * v, churnCounts: churnCounts{Attempts: 1000}}},
			versusSample{Server: serverCentrifugo, Workload: workloadChurn, Subscribers: 20, Round: i, ServerCPU: ms(3 * v / 2), ServerIO: calls(4), Churn: &churnSample{AttemptsPerSec: v, churnCounts: churnCounts{Attempts: 1000}}},
		)
	}
	rows := versusRows(res)
	if len(rows) != 9 {
		t.Fatalf("rows %+v; want unicast, concurrent unicast and churn, each with its CPU and system calls per operation", rows)
	}
	for i, want := range []versusRow{
		{Workload: "unicast sends/s, 100 users", Herald: 200, Centrifugo: 100, Goal: 1.5},
		{Workload: "  server CPU per send, µs", Herald: 20, Centrifugo: 40, Cost: true},
		{Workload: "  server I/O system calls per send", Herald: 3, Centrifugo: 4, Cost: true, Fraction: true},
		{Workload: "unicast sends/s, 100 users, 8 in flight", Herald: 2000, Centrifugo: 1000, Goal: 1.5},
		{Workload: "  server CPU per send, µs", Herald: 10, Centrifugo: 20, Cost: true},
		{Workload: "  server I/O system calls per send", Herald: 3, Centrifugo: 4, Cost: true, Fraction: true},
		{Workload: "churn attempts/s, 4 in flight, 20 idle (40% bad tokens, 20% drops)", Herald: 600, Centrifugo: 200, Goal: 1.5},
		{Workload: "  server CPU per attempt, µs", Herald: 100, Centrifugo: 300, Cost: true},
		{Workload: "  server I/O system calls per attempt", Herald: 3, Centrifugo: 4, Cost: true, Fraction: true},
	} {
		if rows[i] != want {
			t.Errorf("row %d = %+v; want %+v", i, rows[i], want)
		}
	}
	if r := rows[7].Ratio(); r != 3 {
		t.Errorf("a cost's ratio = %v, want Centrifugo ÷ Herald = 3", r)
	}
	var b strings.Builder
	printVersus(&b, res)
	if !regexp.MustCompile(`server CPU per attempt, µs +100\.0 +300\.0 +3\.00× +— +—`).MatchString(b.String()) {
		t.Errorf("printed table lacks the churn's CPU per attempt:\n%s", b.String())
	}
	if !regexp.MustCompile(`server I/O system calls per attempt +3\.00 +4\.00 +1\.33× +— +—`).MatchString(b.String()) {
		t.Errorf("printed table lacks the churn's system calls per attempt:\n%s", b.String())
	}
	for _, want := range []string{"churn: 4 loops", "3.00×", "churn: unexpected outcomes, all samples: 0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printed table lacks %q:\n%s", want, b.String())
		}
	}
}

// ms is x milliseconds.
func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

func TestVersusRejectsBadChurnAndInflightFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--unicast-inflight", "0"},
		{"--churn-inflight", "-1"},
		{"--churn-base", "-5"},
		{"--churn-duration", "0s"},
	} {
		if err := runVersus(context.Background(), args); err == nil {
			t.Errorf("runVersus(%q) accepted", args)
		}
	}
}

// Connects and fan-out give one rate row each per size, from the fan-out
// samples' medians, with no cost rows.
func TestVersusRowsConnectsAndFanout(t *testing.T) {
	res := &versusResult{Sizes: []int{10}}
	for _, v := range []float64{100, 300, 200, 400} {
		res.Samples = append(res.Samples,
			versusSample{Server: serverHerald, Workload: "fanout", Subscribers: 10, ConnectsPerSec: 2 * v, DeliveriesPerSec: 3 * v},
			versusSample{Server: serverCentrifugo, Workload: "fanout", Subscribers: 10, ConnectsPerSec: v, DeliveriesPerSec: v},
			versusSample{Server: serverHerald, Workload: "fanout", Subscribers: 99, ConnectsPerSec: 1e6}, // another size
		)
	}
	rows := versusRows(res)
	want := []versusRow{
		{Workload: "connects/s, 10 clients", Herald: 500, Centrifugo: 250, Goal: 1.5},
		{Workload: "fan-out deliveries/s, 10 subscribers", Herald: 750, Centrifugo: 250, Goal: 1.5},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %+v; want %+v", rows, want)
	}
}
