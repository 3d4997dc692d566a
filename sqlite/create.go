package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// created is what one create request will hand back once its transaction
// commits: the notifications as stored, and which of them are new.
type created struct {
	out []herald.Notification
	new []bool
}

// createInTx stores ns inside tx, stamping new notifications with now. It only
// reads ns, so a transaction that fails to commit leaves the caller's values
// untouched.
func createInTx(ctx context.Context, tx *sql.Tx, st *statements, ns []*herald.Notification, now time.Time) (*created, error) {
	c := &created{out: make([]herald.Notification, len(ns)), new: make([]bool, len(ns))}
	firstKey := make(map[[2]string]int) // (user, key) -> first new notification with it
	dupOf := make(map[int]int)          // in-batch duplicate -> its first occurrence
	counts := make(map[string]int64)    // user -> new notifications
	var users []string                  // users in order of first appearance
	byKey := tx.StmtContext(ctx, st.byKey)

	for i, n := range ns {
		if n.IdempotencyKey != "" {
			k := [2]string{n.UserID, n.IdempotencyKey}
			if j, ok := firstKey[k]; ok {
				dupOf[i] = j
				continue
			}
			stored, err := scanNotification(byKey.QueryRowContext(ctx, n.UserID, n.IdempotencyKey))
			if err == nil {
				c.out[i] = *stored
				continue
			}
			if !isNoRows(err) {
				return nil, err
			}
			firstKey[k] = i
		}
		id, err := notificationID(n.ID)
		if err != nil {
			return nil, err
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

	// One counter bump per user reserves a run of seqs for the batch.
	next := make(map[string]int64, len(users))
	bump := tx.StmtContext(ctx, st.bumpSeq)
	for _, u := range users {
		var last int64
		if err := bump.QueryRowContext(ctx, u, counts[u]).Scan(&last); err != nil {
			return nil, err
		}
		next[u] = last - counts[u] + 1
	}

	insert := tx.StmtContext(ctx, st.insert)
	at := micros(now)
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
				return nil, herald.Errorf(herald.ECONFLICT, "notification %s already exists", n.ID)
			}
			return nil, err
		}
	}
	for i, j := range dupOf {
		c.out[i] = c.out[j]
		c.out[i].Data = append([]byte(nil), c.out[j].Data...)
		if c.out[j].Data == nil {
			c.out[i].Data = nil
		}
	}
	return c, nil
}

// notificationID returns id in canonical form, or a new UUIDv7 when id is empty.
func notificationID(id string) (string, error) {
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", herald.Errorf(herald.EINVALID, "notification id must be a UUID")
	}
	return u.String(), nil
}

// lookupID returns id in canonical form; ok is false when it is no UUID and so
// names no notification.
func lookupID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
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
