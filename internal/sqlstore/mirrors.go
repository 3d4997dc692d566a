package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// RemakeGap is the least time between two makings of the mirrors, so that a
// disk that refuses a commit now and then does not have every user's counts
// and preferences read again after each refusal.
const RemakeGap = 10 * time.Second

// mirrors holds the counts and preferences kept in memory (Config.Counts)
// and their lifecycle. They are made at Open and loaded in the background.
// A commit that fails may or may not have committed, so it turns both off:
// what the database now holds is unknown to them, and reads go to the
// tables. The first commit that succeeds after it, RemakeGap or more after
// the mirrors in use were made, makes a fresh pair and loads it from the
// tables, which the refused commit left as they are whichever way it went.
// Mirrors off past their bound stay off: loading them again would find the
// tables no smaller.
//
// A fresh pair is in use (takes notes) before its snapshot is read, and a
// transaction's notes go to the pair in use after its commit: a commit
// before the snapshot is in it, one after it reaches the fresh pair by its
// notes, and the newest state of a row wins either way.
type mirrors struct {
	max  int
	read func(context.Context) conn
	now  func() time.Time

	counts atomic.Pointer[counts]
	prefs  atomic.Pointer[prefs]
	stale  atomic.Bool // a commit failed since the pair in use was made

	ctx    context.Context // the loads'; done at stop
	cancel context.CancelFunc
	loads  sync.WaitGroup
	first  chan struct{} // closed when the first load has ended
	once   sync.Once

	mu      sync.Mutex // orders failures, makings and stop
	loading bool
	madeAt  time.Time
	stopped bool
	pairs   int // pairs made, the first included
}

// newMirrors makes the first pair of at most max users each and starts its
// load on read's connections.
func newMirrors(ctx context.Context, max int, read func(context.Context) conn, now func() time.Time) *mirrors {
	m := &mirrors{max: max, read: read, now: now, first: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.mu.Lock()
	m.make()
	m.mu.Unlock()
	return m
}

// make puts a fresh, empty pair in use and loads it in the background.
// m.mu is held.
func (m *mirrors) make() {
	c, p := newCounts(m.max), newPrefs(m.max)
	m.counts.Store(c)
	m.prefs.Store(p)
	m.stale.Store(false)
	m.madeAt = m.now()
	m.loading = true
	m.pairs++
	m.loads.Add(1)
	go func() {
		defer m.loads.Done()
		c.load(m.read(m.ctx))
		p.load(m.read(m.ctx))
		m.mu.Lock()
		m.loading = false
		m.mu.Unlock()
		m.once.Do(func() { close(m.first) })
	}()
}

// countsNow and prefsNow return the pair in use; nil (off) without mirrors.
func (m *mirrors) countsNow() *counts {
	if m == nil {
		return nil
	}
	return m.counts.Load()
}

func (m *mirrors) prefsNow() *prefs {
	if m == nil {
		return nil
	}
	return m.prefs.Load()
}

// failed turns the pair in use off after a commit that returned an error,
// and asks for a fresh one.
func (m *mirrors) failed() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts.Load().turnOff()
	m.prefs.Load().turnOff()
	m.stale.Store(true)
}

// committed writes what a committed transaction left into the pair in use,
// then makes a fresh pair if a commit failed since this one was made, no
// load runs, and RemakeGap has passed; otherwise a later commit asks again.
func (m *mirrors) committed(n *txNotes) {
	if m == nil || n == nil {
		return
	}
	m.counts.Load().apply(n.counts)
	p := m.prefs.Load()
	for _, saved := range n.prefs {
		p.save(saved, n.seq)
	}
	if !m.stale.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stale.Load() && !m.loading && !m.stopped && m.now().Sub(m.madeAt) >= RemakeGap {
		m.make()
	}
}

// pairsMade returns how many pairs have been made, the first included.
func (m *mirrors) pairsMade() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pairs
}

// stop cancels any load, makes no more pairs, and waits for the loads to
// end.
func (m *mirrors) stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.cancel()
	m.loads.Wait()
}
