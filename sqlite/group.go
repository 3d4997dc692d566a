package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// createRequest is one CreateNotifications call waiting for the writer.
type createRequest struct {
	ctx    context.Context
	ns     []*herald.NewNotification
	opts   herald.CreateOptions
	result []herald.Created
	err    error
	done   chan struct{} // closed once result or err is set
}

// CreateNotifications stores ns in one transaction; see herald.Store. The call
// queues ns for the writer loop, which may commit it together with other
// callers' notifications: each call still succeeds or fails as a whole, on its
// own.
func (s *Store) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	for i, n := range ns {
		if n == nil {
			return nil, herald.Errorf(herald.EINVALID, "notification %d is missing", i)
		}
		if n.ID != "" {
			if _, ok := lookupID(n.ID); !ok {
				return nil, herald.Errorf(herald.EINVALID, "notification id must be a UUID")
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	if len(ns) == 0 {
		return []herald.Created{}, nil
	}

	r := &createRequest{ctx: ctx, ns: ns, opts: opts, done: make(chan struct{})}
	s.queueMu.RLock()
	if s.closed.Load() {
		s.queueMu.RUnlock()
		return nil, errClosed
	}
	select {
	case s.queue <- r:
		s.queueMu.RUnlock()
	case <-ctx.Done():
		s.queueMu.RUnlock()
		return nil, ctx.Err()
	}

	// Once queued, the request is the writer's: wait for its answer even if
	// ctx ends meanwhile, so ns is never written while the caller uses it.
	// The writer drops requests whose ctx ended before their turn.
	<-r.done
	if r.err != nil {
		return nil, r.err
	}
	return r.result, nil
}

// commitLoop is the writer: it takes the queued requests, as many as fit in
// maxBatch notifications, and commits them in one transaction. While one
// transaction commits, the next requests queue up, so the busier the store,
// the more each commit carries.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	var batch []*createRequest
	for r := range s.queue {
		batch = append(batch[:0], r)
		n := len(r.ns)
	fill:
		for n < s.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
				n += len(r.ns)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch) // let finished requests be collected
	}
}

// commit runs batch in one transaction. When one request cannot be stored
// (its supplied id is taken), the transaction is rolled back and run again
// without it, so it fails alone; that is rare, and the common path pays for no
// savepoints.
func (s *Store) commit(batch []*createRequest) {
	live := make([]*createRequest, 0, len(batch))
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
	now := s.now().UTC().Truncate(time.Microsecond)
	for len(live) > 0 {
		s.commits.Add(1)
		err := s.commitOnce(ctx, live, now)
		var rerr *requestError
		if errors.As(err, &rerr) {
			failed := live[rerr.request]
			failed.result, failed.err = nil, rerr.err
			close(failed.done)
			live = append(live[:rerr.request], live[rerr.request+1:]...)
			continue
		}
		if err != nil {
			err = storeError("create notifications", err)
		}
		for _, r := range live {
			if err != nil {
				r.result, r.err = nil, err
			} else if r.opts.Committed != nil {
				r.opts.Committed(r.result) // on the writer: in commit order
			}
			close(r.done)
		}
		return
	}
}

func (s *Store) commitOnce(ctx context.Context, reqs []*createRequest, now time.Time) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := createInTx(ctx, tx, s.stmts, reqs, now); err != nil {
		return err
	}
	return tx.Commit()
}

// storeError wraps a database failure: a lock held too long by another
// process is worth retrying, anything else is internal.
func storeError(op string, err error) error {
	var herr *herald.Error
	if errors.As(err, &herr) {
		return err
	}
	if isBusy(err) {
		return herald.Errorf(herald.EUNAVAILABLE, "notification database is busy")
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
