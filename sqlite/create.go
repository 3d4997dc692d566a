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
// committed first, which it does. Each request gets consecutive seqs per user
// and its own count version, in request order.
//
// It only reads the requests' notifications. When one request cannot be
// stored, it returns a *requestError naming it.
func createInTx(ctx context.Context, tx *sql.Tx, st *statements, reqs []*createRequest, now time.Time) error {
	type ref struct{ req, i int }
	firstKey := make(map[[2]string]ref) // (user, key) -> first new notification with it
	var dups [][2]ref                   // in-group duplicate, its first occurrence
	byKey := tx.StmtContext(ctx, st.byKey)
	planned := make(map[*herald.Notification][]*herald.Delivery)
	planning := planningState{}

	for r, req := range reqs {
		req.result = make([]herald.Created, len(req.ns))
		out := req.result
		for i, in := range req.ns {
			if in.IdempotencyKey != "" {
				k := [2]string{in.UserID, in.IdempotencyKey}
				if first, ok := firstKey[k]; ok {
					dups = append(dups, [2]ref{{r, i}, first})
					continue
				}
				stored, err := scanNotification(byKey.QueryRowContext(ctx, in.UserID, in.IdempotencyKey))
				if err == nil {
					out[i] = herald.Created{Notification: stored, Replayed: true}
					continue
				}
				if !isNoRows(err) {
					return err
				}
				firstKey[k] = ref{r, i}
			}
			id, err := notificationID(in.ID)
			if err != nil {
				return &requestError{r, err}
			}
			n := &herald.Notification{
				ID: id, UserID: in.UserID, Type: in.Type, Title: in.Title, Message: in.Message, Link: in.Link,
				Data: in.Data, IdempotencyKey: in.IdempotencyKey, CreatedAt: now, Timestamp: now,
			}
			if p := req.opts.Planner; p != nil {
				prefs, subs, err := planning.user(ctx, tx, in.UserID, p.UsesPush())
				if err != nil {
					return err
				}
				plan := p.Plan(in, prefs, subs, now)
				if plan.Silent {
					readAt := now
					n.Read, n.ReadAt, n.Silent = true, &readAt, true
				}
				planned[n] = plan.Deliveries
			}
			out[i] = herald.Created{Notification: n}
		}
	}

	// Each request bumps the counter of each of its users once: that
	// reserves a run of seqs and gives the count and version the request's
	// change left, as if the requests had committed one after the other.
	bump := tx.StmtContext(ctx, st.bumpSeq)
	insert := tx.StmtContext(ctx, st.insert)
	at := micros(now)
	for r, req := range reqs {
		counts := make(map[string]int64)
		unread := make(map[string]int64)
		var users []string
		for _, c := range req.result {
			if c.Notification == nil || c.Replayed {
				continue
			}
			u := c.Notification.UserID
			if counts[u] == 0 {
				users = append(users, u)
			}
			counts[u]++
			if !c.Notification.Silent {
				unread[u]++
			}
		}
		next := make(map[string]int64, len(users))
		state := make(map[string]herald.Unread, len(users))
		for _, u := range users {
			var after herald.Unread
			if err := bump.QueryRowContext(ctx, u, counts[u], unread[u]).Scan(&after.LastSeq, &after.Count, &after.Version); err != nil {
				return err
			}
			next[u] = after.LastSeq - counts[u] + 1
			state[u] = after
		}
		for i := range req.result {
			c := &req.result[i]
			if c.Notification == nil || c.Replayed {
				continue
			}
			n := c.Notification
			n.Seq = next[n.UserID]
			next[n.UserID]++
			c.Unread = state[n.UserID]
			var data, readAt any
			if len(n.Data) > 0 {
				data = string(n.Data)
			}
			if n.ReadAt != nil {
				readAt = micros(*n.ReadAt)
			}
			_, err := insert.ExecContext(ctx, n.ID, n.Seq, n.UserID, n.Type, n.Title, n.Message, n.Link, data, readAt, at, nullable(n.IdempotencyKey), n.Silent)
			if err != nil {
				if isConstraint(err) && strings.Contains(err.Error(), "notifications.id") {
					return &requestError{r, herald.Errorf(herald.ECONFLICT, "notification %s already exists", n.ID)}
				}
				return err
			}
			ds, err := insertDeliveries(ctx, tx, n, planned[n], now) // the outbox rows (delivery.go)
			if err != nil {
				return err
			}
			c.Deliveries = ds
		}
	}
	for _, d := range dups {
		dup, first := d[0], d[1]
		n := *reqs[first.req].result[first.i].Notification
		if n.Data != nil {
			n.Data = append([]byte(nil), n.Data...)
		}
		reqs[dup.req].result[dup.i] = herald.Created{Notification: &n, Replayed: true} // a replay plans nothing
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

// planningState reads, once per user and transaction, what planning needs.
type planningState map[string]*userPlanning

type userPlanning struct {
	prefs *herald.Preferences
	subs  []*herald.PushSubscription
}

// user returns userID's preferences (the zero ones when none were saved) and,
// when push is set, push subscriptions, read in tx.
func (ps planningState) user(ctx context.Context, tx *sql.Tx, userID string, push bool) (*herald.Preferences, []*herald.PushSubscription, error) {
	if u := ps[userID]; u != nil {
		return u.prefs, u.subs, nil
	}
	u := &userPlanning{}
	var err error
	u.prefs, err = scanPreferences(tx.QueryRowContext(ctx, `SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = ?`, userID))
	switch {
	case isNoRows(err):
		u.prefs = &herald.Preferences{UserID: userID}
	case err != nil:
		return nil, nil, err
	}
	if push {
		if u.subs, err = findPushSubscriptions(ctx, tx, userID); err != nil {
			return nil, nil, err
		}
	}
	ps[userID] = u
	return u.prefs, u.subs, nil
}
