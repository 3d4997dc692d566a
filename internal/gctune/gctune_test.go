package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"
)

// calls records what a Tuner asked of the runtime.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) { c.mu.Lock(); c.log = append(c.log, s); c.mu.Unlock() }

func (c *calls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.log
	c.log = nil
	return out
}

func fake(c *calls, n *uint64, cfg Config) *Tuner {
	cfg.Allocated = func() uint64 { return *n }
	cfg.SetGOGC = func(p int) {
		if p == DefaultBusy {
			c.add("busy")
		} else {
			c.add("quiet")
		}
	}
	cfg.Release = func() { c.add("release") }
	return New(cfg)
}

// The policy, sample by sample: up at the first busy second, down and a
// release only after Settle of calm, a busy second in between starting the
// calm over.
func TestSamplePolicy(t *testing.T) {
	var c calls
	var n uint64
	tu := fake(&c, &n, Config{Rate: 1000, Settle: 3 * time.Second})
	step := func(bytes uint64, want ...string) {
		t.Helper()
		n += bytes
		tu.sample(time.Second)
		if got := c.take(); !slices.Equal(got, want) {
			t.Fatalf("after %d bytes in a second: calls %v, want %v", bytes, got, want)
		}
	}
	tu.sample(0) // primes
	step(500)    // under the rate: nothing
	step(5000, "busy")
	step(5000) // already busy
	step(10)
	step(10)
	step(5000) // busy again: the calm starts over
	step(10)
	step(10)
	step(10, "quiet", "release") // three calm seconds
	step(10)                     // quiet stays quiet
	step(1000, "busy")           // the rate itself counts as busy
}

// Run leaves GOGC at Quiet when its context ends, busy or not.
func TestRunEndsQuiet(t *testing.T) {
	var c calls
	var n uint64
	var mu sync.Mutex
	cfg := Config{Rate: 1, Interval: 5 * time.Millisecond}
	cfg.Allocated = func() uint64 { mu.Lock(); defer mu.Unlock(); n += 1 << 20; return n }
	cfg.SetGOGC = func(p int) { c.add(map[bool]string{true: "busy", false: "quiet"}[p == DefaultBusy]) }
	cfg.Release = func() { c.add("release") }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(cfg).Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		up := len(c.log) > 0
		c.mu.Unlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a process allocating 1 MiB every 5 ms was never counted busy")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := c.take(); !slices.Equal(got, []string{"busy", "quiet"}) {
		t.Fatalf("calls %v, want [busy quiet]", got)
	}
}

// gogc reads the runtime's current GOGC.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// Against the real runtime: allocating fast raises GOGC, and once the
// allocation stops it comes back down and the memory is released.
func TestTunerOnTheRuntime(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	released := make(chan struct{}, 1)
	tu := New(Config{Rate: 8 << 20, Settle: 100 * time.Millisecond, Interval: 20 * time.Millisecond,
		Release: func() {
			debug.FreeOSMemory()
			select {
			case released <- struct{}{}:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { tu.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for gogc() != DefaultBusy { // about 64 MiB/s of garbage, well over Rate
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d while allocating fast, want %d", gogc(), DefaultBusy)
		}
		for range 64 {
			sink = make([]byte, 16<<10)
		}
		time.Sleep(time.Millisecond)
	}
	sink = nil
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release after the allocation stopped")
	}
	if got := gogc(); got != DefaultQuiet {
		t.Fatalf("GOGC %d once quiet, want %d", got, DefaultQuiet)
	}
}
