package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// This file is the churn workload of versus (issue 12): connection attempts
// that come and go around a base of idle subscribed connections. A worker
// with a churn job runs job.Count loops for job.ChurnDuration; each loop
// makes one attempt after the other:
//
//   - 2 attempts in 5 (40 %) present a token signed with a wrong secret,
//     which the server must refuse: Herald completes the upgrade and closes
//     with 4002 (docs/protocol.md, "Close codes": bad signature), Centrifugo
//     disconnects with 3500 ("invalid token");
//   - 1 in 5 (20 %) connects, subscribes to the channel and drops the
//     connection without a close frame: a TCP reset (SO_LINGER 0) and a
//     plain FIN in turn;
//   - 2 in 5 connect, subscribe and close with a close handshake (1000,
//     then the server's close frame).
//
// Every attempt is a fresh user dialing from its own loopback source
// address (sourceIP), so neither per-address connect limits nor TIME_WAIT
// sockets get in the way.

// churnKind is what one attempt does.
type churnKind int

const (
	churnBad   churnKind = iota // wrong signature: must be refused
	churnDrop                   // connect, subscribe, drop without a close frame
	churnClean                  // connect, subscribe, close handshake
)

// churnKindOf is the kind of attempt n of a worker: of every five, two bad,
// one dropped, two closed cleanly.
func churnKindOf(n int64) churnKind {
	switch n % 5 {
	case 0, 1:
		return churnBad
	case 2:
		return churnDrop
	}
	return churnClean
}

// churnRST reports whether dropping attempt n resets the connection
// (SO_LINGER 0) rather than closing it with a FIN: drops alternate.
func churnRST(n int64) bool { return (n/5)%2 == 0 }

// churnIndex is the connection index (user and source address) of attempt
// n of a worker's churn job: workers draw from disjoint ranges above the
// base connections.
func churnIndex(j *job, n int64) int { return j.First + j.Worker<<24 + int(n) }

// Close codes and error codes that refuse a bad token as expected.
const (
	heraldInvalidToken     = 4002 // "Invalid or expired token"
	centrifugoInvalidToken = 3500 // DisconnectInvalidToken, "invalid token"
)

// expectedRefusal reports whether r is how the server of proto refuses a
// token with a wrong signature.
func expectedRefusal(proto string, r *refusal) bool {
	if proto == protoCentrifugo {
		return r.Close == centrifugoInvalidToken
	}
	return r.Close == heraldInvalidToken
}

// churnCounts are the outcomes of a churn run's attempts. Every attempt is
// exactly one of Clean, Dropped, Refused or Unexpected.
type churnCounts struct {
	Attempts   int64 `json:"attempts"`   // completed, of every kind
	Bad        int64 `json:"bad"`        // attempts with a wrong signature
	Accepted   int64 `json:"accepted"`   // good tokens connected and subscribed
	Clean      int64 `json:"clean"`      // accepted, then closed with a close handshake
	Dropped    int64 `json:"dropped"`    // accepted, then dropped without a close frame
	Refused    int64 `json:"refused"`    // bad tokens refused as the protocol says
	Unexpected int64 `json:"unexpected"` // anything else: see Errors
	// Errors counts the unexpected outcomes by kind.
	Errors map[string]int `json:"errors,omitempty"`
	// Took is the first attempt's start to the last attempt's end.
	Took    time.Duration `json:"took"`
	Latency *histData     `json:"latency,omitempty"` // attempt durations
}

// churnOutcome is one attempt's result: its kind and, for an unexpected one,
// what happened.
type churnOutcome struct {
	kind       churnKind
	ok         bool   // as expected
	unexpected string // when not ok
}

func (c *churnCounts) count(o churnOutcome) {
	c.Attempts++
	if o.kind == churnBad {
		c.Bad++
	}
	if !o.ok {
		c.Unexpected++
		if c.Errors == nil {
			c.Errors = map[string]int{}
		}
		c.Errors[o.unexpected]++
		return
	}
	switch o.kind {
	case churnBad:
		c.Refused++
	case churnDrop:
		c.Accepted++
		c.Dropped++
	case churnClean:
		c.Accepted++
		c.Clean++
	}
}

// add sums another worker's counts into c (latencies apart).
func (c *churnCounts) add(o *churnCounts) {
	c.Attempts += o.Attempts
	c.Bad += o.Bad
	c.Accepted += o.Accepted
	c.Clean += o.Clean
	c.Dropped += o.Dropped
	c.Refused += o.Refused
	c.Unexpected += o.Unexpected
	for k, v := range o.Errors {
		if c.Errors == nil {
			c.Errors = map[string]int{}
		}
		c.Errors[k] += v
	}
	c.Took = max(c.Took, o.Took)
}

// errorList prints the unexpected outcomes, most frequent first.
func (c *churnCounts) errorList() string {
	if len(c.Errors) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(c.Errors))
	for k := range c.Errors {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c.Errors[keys[i]] != c.Errors[keys[j]] {
			return c.Errors[keys[i]] > c.Errors[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d× %s", c.Errors[k], k)
	}
	return b.String()
}

// churn runs a churn job's loops: each starts attempts one after the other
// until job.ChurnDuration has passed, and the attempts under way then are
// finished and counted.
func (w *worker) churn(ctx context.Context) event {
	j := &w.job
	start := time.Now()
	deadline := start.Add(j.ChurnDuration)
	// Bound the last attempts too: each phase of one is bounded by the
	// dial timeout.
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(3*j.DialTimeout+5*time.Second))
	defer cancel()
	var (
		next atomic.Int64
		mu   sync.Mutex
		out  churnCounts
		lat  = newHistogram()
		wg   sync.WaitGroup
	)
	for range max(j.Count, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := next.Add(1) - 1
				t0 := time.Now()
				o := w.churnAttempt(ctx, i)
				lat.record(int64(time.Since(t0)))
				mu.Lock()
				out.count(o)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out.Took = time.Since(start)
	d := lat.snapshot()
	out.Latency = &d
	return event{Event: evChurned, Churn: &out}
}

// churnAttempt makes attempt n of the job and tells how it went.
func (w *worker) churnAttempt(ctx context.Context, n int64) churnOutcome {
	j := &w.job
	kind := churnKindOf(n)
	o := churnOutcome{kind: kind}
	fail := func(what string, err error) churnOutcome {
		o.unexpected = what
		if err != nil {
			o.unexpected += ": " + churnErrorKind(err)
		}
		return o
	}
	idx := churnIndex(j, n)
	user := j.userID(idx)
	secret := j.JWTSecret
	if kind == churnBad {
		secret = "wrong-" + secret
	}
	token, err := mintToken(secret, user, time.Hour)
	if err != nil {
		return fail("token", err)
	}
	u := j.URL
	if j.Proto != protoCentrifugo {
		u = withQueryToken(u, user, token)
	}
	c, err := dialWS(ctx, w, idx, u)
	if err != nil {
		return fail("dial", err)
	}
	defer c.nc.Close()
	_ = c.nc.SetDeadline(time.Now().Add(j.DialTimeout))

	channel := ""
	if kind != churnBad {
		channel = j.Channel
	}
	if j.Proto == protoCentrifugo {
		err = c.cfHandshake(token, channel)
	} else {
		err = c.heraldHandshake(channel)
	}
	if kind == churnBad {
		var r *refusal
		switch {
		case err == nil:
			return fail("bad token accepted", nil)
		case errors.As(err, &r) && expectedRefusal(j.Proto, r):
			o.ok = true
			return o
		}
		return fail("bad token", err)
	}
	if err != nil {
		return fail("good token", err)
	}
	if kind == churnDrop {
		if tc, ok := c.nc.(*net.TCPConn); ok && churnRST(n) {
			_ = tc.SetLinger(0)
		}
		_ = c.nc.Close()
		o.ok = true
		return o
	}
	if err := c.write(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil {
		return fail("close frame", err)
	}
	if _, err := c.awaitClose(); err != nil {
		return fail("no close reply", err)
	}
	o.ok = true
	return o
}

// awaitClose reads frames after the client's close frame until the
// server's close frame and returns its code. Data frames still in flight
// are skipped; nothing is answered.
func (c *client) awaitClose() (int, error) {
	for range 64 {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return 0, err
		}
		if h.Length > 1<<20 {
			return 0, fmt.Errorf("frame of %d bytes", h.Length)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, err
		}
		if h.OpCode == ws.OpClose {
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			return closeCode(p), nil
		}
	}
	return 0, errors.New("no close frame among 64 frames")
}

// churnErrorKind shortens an attempt's error for the table: a refusal's
// code, an HTTP status, or the last part of the error's text.
func churnErrorKind(err error) string {
	var r *refusal
	var st ws.StatusError
	switch {
	case errors.As(err, &r) && r.Close != 0:
		return fmt.Sprintf("close %d", r.Close)
	case errors.As(err, &r) && r.Code != 0:
		return fmt.Sprintf("error %d", r.Code)
	case errors.As(err, &st):
		return fmt.Sprintf("HTTP %d", int(st))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return errorKind(err)
}

// cfInfoLag is how long after a change Centrifugo's /api/info is sure to
// show it: the node republishes its counts every 3 s
// (centrifuge's nodeInfoPublishInterval), and Info reads the last ones.
const cfInfoLag = 3500 * time.Millisecond

// cfInfo reads the connection and subscription counts of a Centrifugo
// node through its server API (POST /api/info), as of its last
// republication (see cfInfoLag).
func cfInfo(api *apiConn) (clients, subs int, err error) {
	status, body, err := api.post("/api/info", []byte("{}"))
	if err != nil {
		return 0, 0, err
	}
	if status != 200 {
		return 0, 0, fmt.Errorf("POST /api/info: status %d: %s", status, truncate(body, 200))
	}
	return parseCFInfo(body)
}

// parseCFInfo reads the first node's num_clients and num_subs from an
// /api/info answer.
func parseCFInfo(body []byte) (clients, subs int, err error) {
	var ans struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result struct {
			Nodes []struct {
				NumClients int `json:"num_clients"`
				NumSubs    int `json:"num_subs"`
			} `json:"nodes"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, 0, fmt.Errorf("/api/info: %w", err)
	}
	if ans.Error != nil {
		return 0, 0, fmt.Errorf("/api/info: error %d %s", ans.Error.Code, ans.Error.Message)
	}
	if len(ans.Result.Nodes) == 0 {
		return 0, 0, errors.New("/api/info: no node")
	}
	return ans.Result.Nodes[0].NumClients, ans.Result.Nodes[0].NumSubs, nil
}

// churnSample is a churn sample's own figures in versus.
type churnSample struct {
	churnCounts
	Duration       time.Duration `json:"duration"` // the window attempts start in
	AttemptsPerSec float64       `json:"attemptsPerSecond"`
	P50            time.Duration `json:"attemptP50"`
	P99            time.Duration `json:"attemptP99"`
	// After the churn: the server's own counts of connections and of
	// subscriptions to the channel, once back at the base connections or
	// when --churn-settle ran out.
	Settled     bool          `json:"settled"`
	SettleTook  time.Duration `json:"settleTook"`
	ConnsAfter  int           `json:"connectionsAfter"`
	SubsAfter   int           `json:"subscriptionsAfter"`
	Leak        int           `json:"leak"`        // ConnsAfter − base connections still open
	SubsLeak    int           `json:"subsLeak"`    // SubsAfter − base connections still open
	BaseDropped int           `json:"baseDropped"` // base connections that ended during the sample
}

// versusChurn measures the churn workload on a fresh server: o.churnBase
// idle connections subscribe to the channel, o.churnInflight loops churn
// for o.churnDuration, then the server must come back to the base (its own
// count) and deliver one message to every base connection.
func versusChurn(ctx context.Context, o *versusOptions, server string, round int) (versusSample, error) {
	n := o.churnBase
	s := versusSample{Server: server, Workload: workloadChurn, Subscribers: n, Round: round, Inflight: o.churnInflight,
		LoadAvg: loadAverage()}
	var t *target
	var err error
	switch server {
	case serverHerald:
		sf := serverFlags{bin: o.heraldBin, logLevel: o.logLevel, cpus: o.serverCPUs}
		t, err = start(ctx, &sf, n+o.churnInflight+1000, nodeSpec{apiKey: randomHex(24), jwtSecret: randomHex(32)})
	case serverCentrifugo:
		t, err = startCentrifugo(ctx, o.cfBin, o.serverCPUs, o.logLevel, false)
	}
	if err != nil {
		return s, err
	}
	defer t.stop(false)
	api := newAPIConn(t)
	defer api.close()

	const channel = "bench"
	base := job{Mode: modeFanout, URL: t.wsURL(), JWTSecret: t.jwtSecret, UserPrefix: userPrefix(), Channel: channel,
		Lifetime: o.lf.connectTime + o.churnDuration + o.roundTimeout + o.churnSettle + 3*time.Minute}
	if server == serverCentrifugo {
		base.Proto = protoCentrifugo
	}
	var ready readySummary
	p := &pool{}
	if n > 0 {
		if p, err = startPool(base, n, o.lf); err != nil {
			return s, err
		}
		defer p.stop()
		if ready, err = p.awaitReady(ctx, o.lf.connectTime); err != nil {
			return s, err
		}
		s.Connected, s.Failed, s.ConnectTook = ready.Connected, ready.Failed, ready.Took
		if ready.Failed > 0 {
			fmt.Fprintf(os.Stderr, "%s: base: %s\n", server, ready)
		}
		if ready.Took > 0 {
			s.ConnectsPerSec = float64(ready.Connected) / ready.Took.Seconds()
		}
	}
	// The base is in place on the server's side too before the churn.
	counts := func() (conns, subs int, err error) {
		if server == serverCentrifugo {
			return cfInfo(api)
		}
		st, err := t.stats(ctx)
		return st.TotalConnections, st.ChannelCounts[channel], err
	}
	atBase := func(conns, subs int) bool { return conns == ready.Connected && subs == ready.Connected }
	if err := waitCounts(ctx, time.Minute, counts, atBase); err != nil {
		return s, fmt.Errorf("before the churn: %w", err)
	}
	if err := sleepUntil(ctx, time.Now().Add(o.pause)); err != nil {
		return s, err
	}

	cj := base
	cj.Mode, cj.First, cj.ChurnDuration = modeChurn, n, o.churnDuration
	cp, err := startPool(cj, o.churnInflight, o.lf)
	if err != nil {
		return s, err
	}
	defer cp.stop()
	if _, err := cp.awaitReady(ctx, 30*time.Second); err != nil {
		return s, err
	}
	cpu0, err := readCPU(t.pid)
	if err != nil {
		return s, err
	}
	io0, io0Err := readIOCalls(t.pid) // unreadable for another user's server: no figure
	client0 := p.cpu() + cp.cpu()
	evs, err := cp.request(ctx, command{Cmd: cmdChurn}, evChurned, o.churnDuration+3*o.lf.dialTimeout+30*time.Second)
	if err != nil {
		return s, err
	}
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return s, err
	}
	io1, io1Err := readIOCalls(t.pid)
	s.ServerCPU = cpu1.sub(cpu0).SchedStat
	if io0Err == nil && io1Err == nil {
		s.ServerIO = io1.sub(io0)
	}
	s.ClientCPU = p.cpu() + cp.cpu() - client0
	cs := &churnSample{Duration: o.churnDuration}
	lat := newHistogram()
	for _, e := range evs {
		if e.Churn == nil {
			return s, fmt.Errorf("worker %d: churned without counts", e.Worker)
		}
		cs.add(e.Churn)
		if e.Churn.Latency != nil {
			lat.merge(*e.Churn.Latency)
		}
	}
	cp.stop() // every churn socket closed for good
	s.Churn = cs
	s.Window = cs.Took
	if cs.Took > 0 {
		cs.AttemptsPerSec = float64(cs.Attempts) / cs.Took.Seconds()
	}
	sum := lat.summary()
	cs.P50, cs.P99 = sum.P50, sum.P99

	// Health: the server's counts come back to the base connections still
	// open, and each of them receives one message.
	rep, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
	if err != nil {
		return s, err
	}
	for _, e := range rep {
		cs.BaseDropped += e.Dropped
	}
	open := ready.Connected - cs.BaseDropped
	settle := time.Now()
	if server == serverCentrifugo {
		// Its /api/info reports the node's counts as last republished, every
		// 3 s: only a reading taken after the next republication tells.
		if err := sleepUntil(ctx, settle.Add(cfInfoLag)); err != nil {
			return s, err
		}
	}
	var conns, subs int
	cs.Settled = true
	if err := waitCounts(ctx, o.churnSettle, func() (int, int, error) {
		var err error
		conns, subs, err = counts()
		return conns, subs, err
	}, func(c, sb int) bool { return c == open && sb == open }); err != nil {
		cs.Settled = false
		fmt.Fprintf(os.Stderr, "%s: after the churn: %v\n", server, err)
	}
	cs.SettleTook = time.Since(settle)
	cs.ConnsAfter, cs.SubsAfter = conns, subs
	cs.Leak, cs.SubsLeak = conns-open, subs-open

	if n > 0 {
		s.Expected = int64(open)
		if _, err := p.request(ctx, command{Cmd: cmdArm, Round: 1, Expect: 1}, evArmed, 30*time.Second); err != nil {
			return s, err
		}
		var body []byte
		path := "/api/channels/" + channel + "/messages"
		if server == serverCentrifugo {
			path, body = "/api/publish", cfPublishBody(nil, channel, fanoutBody(nil, 1, 0, o.payload))
		} else {
			body = fanoutBody(nil, 1, 0, o.payload)
		}
		if err := publish(api, server, path, body); err != nil {
			return s, err
		}
		s.Sends = 1
		_, waitErr := p.collectRound(ctx, evDone, 1, o.roundTimeout)
		s.TimedOut = waitErr != nil
		rep, err := p.request(ctx, command{Cmd: cmdReport}, evReport, 30*time.Second)
		if err != nil {
			return s, err
		}
		for _, e := range rep {
			s.Deliveries += e.Received
			s.Duplicates += e.Duplicates
		}
		s.Loss = s.Expected - s.Deliveries
	}
	return s, nil
}

// waitCounts polls counts until ok accepts them or timeout passes; the
// error names the last counts.
func waitCounts(ctx context.Context, timeout time.Duration, counts func() (int, int, error), ok func(conns, subs int) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		c, sb, err := counts()
		if err == nil && ok(c, sb) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return err
			}
			return fmt.Errorf("the server counts %d connections and %d subscriptions after %s", c, sb, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
