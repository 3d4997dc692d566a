package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// requestError is the failure of one request of a group; the others may be
// retried without it.
type requestError struct {
	request int
	err     error
}

func (e *requestError) Error() string { return e.err.Error() }

// createInTx stores the notifications of reqs inside tx, stamping the new
// ones with now, and sets each request's result. A notification whose key an
// earlier request of the group stored is a replay, as if that request had
// committed first, which it does. Each request gets consecutive seqs per user.
//
// It only reads the requests' notifications, so a transaction that fails to
// commit leaves the callers' values untouched. When one request cannot be
// stored, it returns a *requestError naming it.
func createInTx(ctx context.Context, tx *sql.Tx, st *statements, reqs []*createRequest, now time.Time) error {
	type ref struct{ req, i int }
	firstKey := make(map[[2]string]ref) // (user, key) -> first new notification with it
	var dups [][2]ref                   // in-group duplicate, its first occurrence
	counts := make(map[string]int64)    // user -> new notifications
	var users []string                  // users in order of first appearance
	byKey := tx.StmtContext(ctx, st.byKey)

	for r, req := range reqs {
		req.result = &created{out: make([]herald.Notification, len(req.ns)), new: make([]bool, len(req.ns))}
		c := req.result
		for i, n := range req.ns {
			if n.IdempotencyKey != "" {
				k := [2]string{n.UserID, n.IdempotencyKey}
				if first, ok := firstKey[k]; ok {
					dups = append(dups, [2]ref{{r, i}, first})
					continue
				}
				stored, err := scanNotification(byKey.QueryRowContext(ctx, n.UserID, n.IdempotencyKey))
				if err == nil {
					c.out[i] = *stored
					continue
				}
				if !isNoRows(err) {
					return err
				}
				firstKey[k] = ref{r, i}
			}
			id, err := notificationID(n.ID)
			if err != nil {
				return &requestError{r, err}
			}
			c.out[i] = *n
			c.out[i].ID = id
			c.out[i].Read, c.out[i].ReadAt, c.out[i].Replayed = false, nil, false
			c.out[i].CreatedAt, c.out[i].Timestamp = now, now
			c.new[i] = true
			if counts[n.UserID] == 0 {
				users = append(users, n.UserID)
			}
			counts[n.UserID]++
		}
	}

	// One counter bump per user reserves a run of seqs for the whole group.
	next := make(map[string]int64, len(users))
	bump := tx.StmtContext(ctx, st.bumpSeq)
	for _, u := range users {
		var last int64
		if err := bump.QueryRowContext(ctx, u, counts[u]).Scan(&last); err != nil {
			return err
		}
		next[u] = last - counts[u] + 1
	}

	insert := tx.StmtContext(ctx, st.insert)
	at := micros(now)
	for r, req := range reqs {
		c := req.result
		for i := range c.out {
			if !c.new[i] {
				continue
			}
			n := &c.out[i]
			n.Seq = next[n.UserID]
			next[n.UserID]++
			var data any
			if len(n.Data) > 0 {
				data = string(n.Data)
			}
			_, err := insert.ExecContext(ctx, n.ID, n.Seq, n.UserID, n.Type, n.Title, n.Message, n.Link, data, at, nullable(n.IdempotencyKey))
			if err != nil {
				if isConstraint(err) && strings.Contains(err.Error(), "notifications.id") {
					return &requestError{r, herald.Errorf(herald.ECONFLICT, "notification %s already exists", n.ID)}
				}
				return err
			}
			if err := insertDeliveries(ctx, tx, n, now); err != nil { // the outbox rows (delivery.go)
				return err
			}
		}
	}
	for _, d := range dups {
		dup, first := d[0], d[1]
		n := reqs[first.req].result.out[first.i]
		n.Deliveries = nil // a replay plans nothing
		if n.Data != nil {
			n.Data = append([]byte(nil), n.Data...)
		}
		reqs[dup.req].result.out[dup.i] = n
	}
	return nil
}

// isConstraint reports whether err is a violated constraint.
func isConstraint(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// isBusy reports whether err is a lock another process held too long.
func isBusy(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// notificationID returns id in canonical form, or a new id when it is empty.
func notificationID(id string) (string, error) {
	if id == "" {
		return herald.NewID(), nil
	}
	return herald.ParseID(id)
}

// lookupID returns id in canonical form; ok is false when it is no UUID and so
// names no notification.
func lookupID(id string) (string, bool) {
	c, err := herald.ParseID(id)
	return c, err == nil
}
