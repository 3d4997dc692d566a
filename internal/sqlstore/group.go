package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// createReq is one CreateNotifications call waiting for the commit loop, or
// one chunk of a topic send's fan-out (send set).
type createReq struct {
	ctx  context.Context
	ns   []*herald.NewNotification
	opts herald.CreateOptions
	res  []herald.Created
	err  error
	done chan struct{} // closed once res or err is set

	send     string // the topic send to fan out a chunk of
	limit    int    // its chunk's size
	sendDone bool   // the send has no member left
}

// group commits concurrent creates together: callers queue their requests,
// and a loop takes as many as fit in maxBatch notifications and commits them
// in one transaction. While one transaction commits the next requests queue
// up, so the busier the store, the more each commit carries: on SQLite one
// writer, on PostgreSQL one WAL flush, serve many callers. Each caller still
// succeeds or fails on its own.
type group struct {
	s        *Store
	maxBatch int
	delay    time.Duration // Config.CommitDelay; none when not positive
	mu       sync.RWMutex  // held for reading while queueing, for writing by close
	closed   bool
	queue    chan *createReq
	loops    sync.WaitGroup
	commits  atomic.Int64 // transactions begun, for tests
}

func newGroup(s *Store, maxBatch, committers int, delay time.Duration) *group {
	g := &group{s: s, maxBatch: maxBatch, delay: delay, queue: make(chan *createReq, 4096)}
	for range committers {
		g.loops.Go(g.loop)
	}
	return g
}

// close stops taking requests and waits for those queued to be committed.
func (g *group) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	g.loops.Wait()
}

// submit queues r and waits for its outcome. Once queued, the request is the
// loop's: the caller waits for it even if its context ends, so that the
// caller never returns while its notifications may still be written. The
// loop drops a request whose context ended before its turn.
func (g *group) submit(r *createReq) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errClosed
	}
	start := time.Now()
	select {
	case g.queue <- r:
		g.mu.RUnlock()
	case <-r.ctx.Done():
		g.mu.RUnlock()
		return r.ctx.Err()
	}
	<-r.done
	g.s.metrics.created.Observe(time.Since(start).Seconds())
	return r.err
}

// notifications counts the notifications of reqs.
func notifications(reqs []*createReq) int {
	n := 0
	for _, r := range reqs {
		n += len(r.ns)
	}
	return n
}

// loop takes queued requests, as many as fit in maxBatch notifications, and
// commits them together. A fan-out chunk is committed alone, in its turn.
//
// Under load, the requests it finds queued right after a commit are often
// only the first of many on their way: the callers whose notifications the
// commit just published are answering their clients, whose next requests
// are still being read. A commit of one notification costs several times
// what each of a commit of twenty costs, so a loop that committed whatever
// it found made mostly tiny commits while the machine was busiest. When the
// batch holds fewer requests than half the recent commits did, the loop
// waits for more, at most Config.CommitDelay and at most as long as its
// last commit took, which is the time it saves (see gather). A caller alone
// at low load never waits: the recent commits held one request too.
func (g *group) loop() {
	var (
		batch  []*createReq
		recent = 1.0         // requests per commit, a moving average
		last   time.Duration // how long the last commit took
		timer  = time.NewTimer(time.Hour)
	)
	timer.Stop() // armed by the first wait; Go 1.23's timers leave no stale tick to drain
	for r := range g.queue {
		for r != nil {
			if r.send != "" {
				g.fanOut(r)
				r = nil
				continue
			}
			batch = append(batch[:0], r)
			n := len(r.ns)
			r = nil
			var wait <-chan time.Time // nil: take what is queued, and go
		fill:
			for n < g.maxBatch {
				var next *createReq
				var ok bool
				select {
				case next, ok = <-g.queue:
				default:
					d := gather(len(batch), recent, last, g.delay)
					if d <= 0 {
						break fill
					}
					if wait == nil {
						timer.Reset(d)
						wait = timer.C
					}
					select {
					case next, ok = <-g.queue:
					case <-wait:
						wait = nil // spent: commit what there is
						break fill
					}
				}
				if !ok {
					break fill
				}
				if next.send != "" {
					r = next // after this group
					break fill
				}
				batch = append(batch, next)
				n += len(next.ns)
			}
			if wait != nil {
				timer.Stop()
			}
			recent = 0.9*recent + 0.1*float64(len(batch))
			start := time.Now()
			g.commit(batch)
			last = time.Since(start)
			clear(batch) // let finished requests be collected
		}
	}
}

// gather returns how long the commit loop should wait for more requests
// when it holds reqs of them: none once they are half as many as recent
// commits carried, or when delay is not positive; otherwise the last
// commit's duration, at most delay. Waiting longer than a commit takes
// would cost its callers more than the commit it saves.
func gather(reqs int, recent float64, last, delay time.Duration) time.Duration {
	if delay <= 0 || float64(reqs) >= recent/2 {
		return 0
	}
	return min(last, delay)
}

// fanOut runs one chunk of a topic send and hands its results to
// Committed, in commit order with the groups around it.
func (g *group) fanOut(r *createReq) {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		close(r.done)
		return
	}
	g.commits.Add(1)
	start := time.Now()
	err := g.s.fanOut(context.Background(), r, utc(g.s.now()))
	g.s.metrics.committed(time.Since(start), len(r.res))
	if err != nil {
		r.res, r.err = nil, g.s.fail("fan out a topic notification", err)
	} else if r.opts.Committed != nil && len(r.res) > 0 {
		r.opts.Committed(r.res)
	}
	close(r.done)
}

// maxAttempts bounds the retries of a group that lost a race for an
// idempotency key to another node.
const maxAttempts = 5

// commit runs batch in one transaction. When one request cannot be stored
// (its supplied id is taken) the transaction is rolled back and run again
// without it, so it fails alone; that is rare, and the common path pays for
// no savepoints. After the commit, each request's results are handed to its
// Committed in request order, on this goroutine: commit order.
func (g *group) commit(batch []*createReq) {
	live := make([]*createReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	// The transaction serves several callers, so no one caller's context
	// may cancel it.
	ctx := context.Background()
	for attempt := 1; len(live) > 0; attempt++ {
		now := utc(g.s.now())
		g.commits.Add(1)
		start := time.Now()
		err := g.s.inTx(ctx, func(c conn) error { return g.s.createIn(c, live, now) })
		g.s.metrics.committed(time.Since(start), notifications(live))
		var rerr *requestError
		switch {
		case errors.As(err, &rerr):
			failed := live[rerr.request]
			failed.res, failed.err = nil, rerr.err
			close(failed.done)
			live = append(live[:rerr.request], live[rerr.request+1:]...)
			continue
		case errors.Is(err, errKeyRace) && attempt < maxAttempts:
			continue // another node stored one of the keys: look them up again
		case errors.Is(err, errIDTaken) && len(live) > 1:
			// A supplied id another node took meanwhile: commit each
			// request alone, so only its request fails.
			for _, r := range live {
				g.commit([]*createReq{r})
			}
			return
		case errors.Is(err, errIDTaken):
			err = herald.Errorf(herald.ECONFLICT, "a notification with that id already exists")
		}
		if err != nil {
			err = g.s.fail("create notifications", err)
		}
		for _, r := range live {
			if err != nil {
				r.res, r.err = nil, err
			} else if r.opts.Committed != nil {
				r.opts.Committed(r.res)
			}
			close(r.done)
		}
		return
	}
}

// CreateNotifications stores ns in one transaction; see herald.Store. The
// call queues ns for the commit loop, which may commit it together with
// other callers' notifications.
func (s *Store) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	for i, n := range ns {
		if n == nil {
			return nil, herald.Errorf(herald.EINVALID, "notification %d is missing", i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return []herald.Created{}, nil
	}
	r := &createReq{ctx: ctx, ns: ns, opts: opts, done: make(chan struct{})}
	if err := s.group.submit(r); err != nil {
		return nil, err
	}
	return r.res, nil
}
