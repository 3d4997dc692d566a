package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// worker is a process holding a share of the client connections. It is
// started by the coordinator as "herald-bench worker", reads its job and
// commands on stdin and reports events on stdout.
type worker struct {
	job job

	outMu sync.Mutex
	out   *json.Encoder

	clients  []*client
	stopping atomic.Bool
	dropped  atomic.Int64
	readers  sync.WaitGroup

	// Round state. arm resets it; reader goroutines update it.
	round      atomic.Int64
	expect     atomic.Int64
	remaining  atomic.Int64 // connections still short of expect
	lat        atomic.Pointer[histogram]
	received   atomic.Int64
	duplicates atomic.Int64
	reordered  atomic.Int64
	stray      atomic.Int64
	complete   atomic.Int64
	lastNs     atomic.Int64
	// byNode splits received and latency by node when the job has URLs.
	byNode atomic.Pointer[nodeCounts]
}

// nodeCounts are a round's figures for the connections of each node.
type nodeCounts struct {
	received []atomic.Int64
	lat      []*histogram
}

// newNodeCounts returns zeroed counts for a job's nodes, or nil for a job
// on one server.
func newNodeCounts(j *job) *nodeCounts {
	if len(j.URLs) < 2 {
		return nil
	}
	nc := &nodeCounts{received: make([]atomic.Int64, len(j.URLs))}
	for range j.URLs {
		nc.lat = append(nc.lat, newHistogram())
	}
	return nc
}

func runWorker(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return errors.New("worker takes its job on stdin; it is started by the other commands")
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20)
	if !in.Scan() {
		return errors.New("no job on stdin")
	}
	w := &worker{out: json.NewEncoder(os.Stdout)}
	if err := json.Unmarshal(in.Bytes(), &w.job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	w.lat.Store(newHistogram())
	w.byNode.Store(newNodeCounts(&w.job))
	ctx, cancel := context.WithTimeout(ctx, w.job.Lifetime)
	defer cancel()

	if w.job.Mode == modeChurn {
		w.emit(event{Event: evReady}) // the loops connect on cmdChurn
	} else {
		w.connect(ctx)
	}

	// Commands until stop, stdin closing (the coordinator is gone) or the
	// lifetime bound.
	cmds := make(chan command)
	go func() {
		defer close(cmds)
		for in.Scan() {
			var c command
			if json.Unmarshal(in.Bytes(), &c) == nil {
				cmds <- c
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			w.emit(event{Event: evFatal, Error: "worker lifetime exceeded"})
			w.stop()
			return nil
		case c, ok := <-cmds:
			if !ok || c.Cmd == cmdStop {
				w.stop()
				return nil
			}
			switch c.Cmd {
			case cmdArm:
				w.arm(c.Round, c.Expect)
			case cmdReport:
				w.emit(w.report())
			case cmdChurn:
				go func() { w.emit(w.churn(ctx)) }()
			}
		}
	}
}

func (w *worker) emit(e event) {
	e.Worker = w.job.Worker
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(e)
}

// connect opens the job's connections, Concurrency handshakes at a time, and
// reports ready. Transient dial failures are retried twice; refusals are not.
func (w *worker) connect(ctx context.Context) {
	start := time.Now()
	var mu sync.Mutex
	errs := map[string]int{}
	sem := make(chan struct{}, max(w.job.Concurrency, 1))
	var wg sync.WaitGroup
	for i := range w.job.Count {
		idx := w.job.First + i
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			errs["lifetime exceeded"]++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var c *client
			var err error
			for attempt := range 3 {
				if attempt > 0 {
					time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
				}
				if c, err = dialClient(ctx, w, idx); err == nil || errors.Is(err, errRefused) || ctx.Err() != nil {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[errorKind(err)]++
				return
			}
			w.clients = append(w.clients, c)
		}()
	}
	wg.Wait()
	for _, c := range w.clients {
		w.readers.Add(1)
		go func() {
			defer w.readers.Done()
			err := c.run()
			if !w.stopping.Load() {
				if w.dropped.Add(1) <= 3 {
					fmt.Fprintf(os.Stderr, "worker %d: connection %d ended: %v\n", w.job.Worker, c.idx, err)
				}
				// A dropped connection will never complete its round.
				done := c.complete && c.round == w.round.Load()
				if !done && w.expect.Load() > 0 && w.remaining.Add(-1) == 0 {
					w.roundDone()
				}
			}
		}()
	}
	failed := w.job.Count - len(w.clients)
	ev := event{Event: evReady, Connected: len(w.clients), Failed: failed, Errors: errs, Took: time.Since(start)}
	if len(w.job.URLs) > 1 {
		ev.NodeConnected = make([]int, len(w.job.URLs))
		for _, c := range w.clients {
			ev.NodeConnected[c.node]++
		}
	}
	w.emit(ev)
}

// errorKind shortens an error for the failure table: the last part of its
// text, without addresses.
func errorKind(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && !errors.Is(err, errRefused) {
		s = s[i+2:]
	}
	return s
}

// arm starts a fan-out round: counters reset, then the round number changes,
// so a reader that sees the new round also sees the new expectation.
func (w *worker) arm(round, expect int) {
	w.lat.Store(newHistogram())
	w.byNode.Store(newNodeCounts(&w.job))
	for _, c := range []*atomic.Int64{&w.received, &w.duplicates, &w.reordered, &w.stray, &w.complete, &w.lastNs} {
		c.Store(0)
	}
	w.expect.Store(int64(expect))
	w.remaining.Store(int64(len(w.clients)) - w.dropped.Load())
	w.round.Store(int64(round))
	w.emit(event{Event: evArmed, Round: round})
	if w.remaining.Load() <= 0 {
		w.roundDone()
	}
}

// exact counts the connections whose newest unread count is the round's
// expectation.
func (w *worker) exact() int {
	want, n := w.expect.Load(), 0
	for _, c := range w.clients {
		if c != nil && c.count.Load() == want {
			n++
		}
	}
	return n
}

func (w *worker) roundDone() {
	w.emit(event{Event: evDone, Round: int(w.round.Load()), LastUnixNs: w.lastNs.Load()})
}

func (w *worker) report() event {
	d := w.lat.Load().snapshot()
	e := event{
		Event:      evReport,
		Round:      int(w.round.Load()),
		Connected:  len(w.clients),
		Received:   w.received.Load(),
		Duplicates: w.duplicates.Load(),
		Reordered:  w.reordered.Load(),
		Stray:      w.stray.Load(),
		Complete:   int(w.complete.Load()),
		Dropped:    int(w.dropped.Load()),
		Exact:      w.exact(),
		LastUnixNs: w.lastNs.Load(),
		Latency:    &d,
	}
	if nc := w.byNode.Load(); nc != nil {
		for i := range nc.lat {
			e.NodeReceived = append(e.NodeReceived, nc.received[i].Load())
			e.NodeLatency = append(e.NodeLatency, nc.lat[i].snapshot())
		}
	}
	return e
}

// handle accounts for one text message received at now (Unix nanoseconds).
func (w *worker) handle(c *client, now int64, p []byte) {
	if w.job.Proto == protoCentrifugo {
		w.handleCentrifugo(c, now, p)
		return
	}
	switch w.job.Mode {
	case modeFanout:
		w.handleFanout(c, now, p)
	case modeTopic:
		if bytes.Contains(p, []byte(`"type":"notification:unread_count"`)) {
			n, ok1 := intField(p, "count")
			v, ok2 := intField(p, "version")
			if ok1 && ok2 && v > c.version.Load() {
				c.version.Store(v)
				c.count.Store(n)
			}
			return
		}
		fallthrough
	case modeNotify:
		if !bytes.Contains(p, []byte(`"type":"notification:new"`)) {
			return // unread counts and the like
		}
		sent, ok := intField(p, "sentNs")
		if !ok {
			w.stray.Add(1)
			return
		}
		w.lat.Load().record(now - sent)
		w.received.Add(1)
		storeMax(&w.lastNs, now)
	}
}

// handleFanout checks a channel message's round and sequence number and
// records its latency: receipt time minus the send time in its body. A
// message arriving after one with a greater seq counts as reordered, not
// lost: messages sent through different nodes may overtake each other.
func (w *worker) handleFanout(c *client, now int64, p []byte) {
	round, ok1 := intField(p, "round")
	seq, ok2 := intField(p, "seq")
	sent, ok3 := intField(p, "sentNs")
	current := w.round.Load() // before expect: arm stores expect, then round
	expect := w.expect.Load()
	if !ok1 || !ok2 || !ok3 || round != current || seq < 0 || seq >= expect {
		w.stray.Add(1)
		return
	}
	if c.round != round {
		c.round, c.got, c.last, c.complete = round, 0, -1, false
		words := int(expect+63) / 64
		if cap(c.seen) < words {
			c.seen = make([]uint64, words)
		}
		c.seen = c.seen[:words]
		clear(c.seen)
	}
	word, bit := seq/64, uint64(1)<<(seq%64)
	if word >= int64(len(c.seen)) { // armed again meanwhile
		w.stray.Add(1)
		return
	}
	if c.seen[word]&bit != 0 {
		w.duplicates.Add(1)
		return
	}
	c.seen[word] |= bit
	lat := now - sent
	w.lat.Load().record(lat)
	if nc := w.byNode.Load(); nc != nil {
		nc.lat[c.node].record(lat)
		nc.received[c.node].Add(1)
	}
	if seq < c.last {
		w.reordered.Add(1)
	}
	c.last = max(c.last, seq)
	c.got++
	w.received.Add(1)
	storeMax(&w.lastNs, now)
	if !c.complete && c.got >= expect {
		c.complete = true
		w.complete.Add(1)
		if w.remaining.Add(-1) == 0 {
			w.roundDone()
		}
	}
}

// handleCentrifugo splits a Centrifugo frame into its messages, answers
// pings and hands pushes to the fan-out accounting; replies are ignored.
func (w *worker) handleCentrifugo(c *client, now int64, p []byte) {
	_ = cfLines(p, func(line []byte) error {
		switch {
		case cfIsPing(line):
			_ = c.write(ws.OpText, []byte("{}"))
		case cfIsPush(line) && w.job.Mode == modeFanout:
			w.handleFanout(c, now, line)
		}
		return nil
	})
}

func storeMax(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// stop closes every connection and waits briefly for the readers.
func (w *worker) stop() {
	w.stopping.Store(true)
	for _, c := range w.clients {
		_ = c.nc.Close()
	}
	done := make(chan struct{})
	go func() { w.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
