package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald"
)

// lockCounter is the first statement of every change of a user's
// notifications other than a create: it locks the user's counter row
// (PostgreSQL), before any notification row. Creates lock counter rows first
// too, so every writer of a user's notifications queues on that row in one
// order. Otherwise a read or delete holding a notification row while it
// waits for the counter could deadlock with a create that holds the counter
// while its unique-key check waits for that notification row. With one
// writer at a time (SQLite) the statement is a harmless read.
//
// It reports false when the user has no counter row, and so had no
// notification when it looked: the caller then changes nothing. Going on
// would lock nothing, yet the next statement could see the user's first
// notifications, committed meanwhile (each statement of a READ COMMITTED
// transaction sees what committed before it began): a mark-all-read would
// then hold those rows while waiting for the counter, which a mark-read
// holding the counter and waiting for one of those rows could never give
// it. Stopping makes the change happen before the user's first create.
func (s *Store) lockCounter(c conn, userID string) (bool, error) {
	var one int
	err := c.queryRow(`SELECT 1 FROM user_seqs WHERE user_id = ?`+s.d.ForNoKeyUpdate, userID).Scan(&one)
	if AfterLockCounter != nil {
		AfterLockCounter(userID)
	}
	if isNoRows(err) {
		return false, nil
	}
	return err == nil, err
}

// AfterLockCounter, when set, is called by every mark-read, mark-all-read
// and delete right after it has locked (or found no) counter row, inside its
// transaction: tests commit a create there, in the window lockCounter
// closes. Nil outside tests.
var AfterLockCounter func(userID string)

// uncount takes n notifications that stopped being unread off userID's
// count, in the transaction that changed them, and returns what it leaves.
func uncount(c conn, userID string, n int64) (herald.Unread, error) {
	var u herald.Unread
	err := c.queryRow(`UPDATE user_seqs SET unread = unread - ?, version = version + 1 WHERE user_id = ?
		RETURNING unread, version, last_seq`, n, userID).Scan(&u.Count, &u.Version, &u.LastSeq)
	if err == nil {
		c.note(userID, u)
	}
	return u, err
}

// MarkRead marks one of userID's notifications read at at (now when zero).
func (s *Store) MarkRead(ctx context.Context, userID, id string, at time.Time) (herald.Unread, bool, error) {
	if err := s.enter(); err != nil {
		return herald.Unread{}, false, err
	}
	id, ok := lookupID(id)
	if !ok {
		return herald.Unread{}, false, errNotFound
	}
	if at.IsZero() {
		at = s.now()
	}
	var (
		u       herald.Unread
		changed bool
		exists  = true
	)
	err := s.inTx(ctx, func(c conn) error {
		if ok, err := s.lockCounter(c, userID); !ok {
			exists = false // and err nil: no notification of userID's yet
			return err
		}
		n, err := c.execN(`UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`, utc(at), id, userID)
		if err != nil {
			return err
		}
		if n == 0 { // already read, or not userID's to mark
			var one int
			err := c.queryRow(`SELECT 1 FROM notifications WHERE id = ? AND user_id = ?`, id, userID).Scan(&one)
			exists = err == nil
			if isNoRows(err) {
				return nil
			}
			return err
		}
		changed = true
		u, err = uncount(c, userID, n)
		return err
	})
	switch {
	case err != nil:
		return herald.Unread{}, false, s.fail("mark read", err)
	case !exists:
		return herald.Unread{}, false, errNotFound
	case !changed:
		return herald.Unread{}, false, nil
	}
	return u, true, nil
}

// MarkAllRead marks every unread notification of userID read. The count
// drops by what it changed rather than to zero: on PostgreSQL, a create that
// committed while it waited for the counter row stays unread.
func (s *Store) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, herald.Unread, error) {
	if err := s.enter(); err != nil {
		return 0, herald.Unread{}, err
	}
	if at.IsZero() {
		at = s.now()
	}
	var (
		n int64
		u herald.Unread
	)
	err := s.inTx(ctx, func(c conn) error {
		if ok, err := s.lockCounter(c, userID); !ok {
			return err // no notification of userID's yet: none to mark
		}
		var err error
		if n, err = c.execN(`UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, utc(at), userID); err != nil || n == 0 {
			return err
		}
		u, err = uncount(c, userID, n)
		return err
	})
	if err != nil {
		return 0, herald.Unread{}, s.fail("mark all read", err)
	}
	return int(n), u, nil
}

// DeleteNotification removes one of userID's notifications. Its seq stays
// used, and its idempotency key is forgotten with it.
func (s *Store) DeleteNotification(ctx context.Context, userID, id string) (herald.Unread, bool, error) {
	if err := s.enter(); err != nil {
		return herald.Unread{}, false, err
	}
	id, ok := lookupID(id)
	if !ok {
		return herald.Unread{}, false, errNotFound
	}
	var (
		wasUnread bool
		u         herald.Unread
	)
	err := s.inTx(ctx, func(c conn) error {
		if ok, err := s.lockCounter(c, userID); !ok {
			if err == nil {
				err = sql.ErrNoRows // no notification of userID's yet
			}
			return err
		}
		err := c.queryRow(`DELETE FROM notifications WHERE id = ? AND user_id = ? RETURNING read_at IS NULL`, id, userID).Scan(&wasUnread)
		if err != nil || !wasUnread {
			return err
		}
		u, err = uncount(c, userID, 1)
		return err
	})
	switch {
	case isNoRows(err):
		return herald.Unread{}, false, errNotFound
	case err != nil:
		return herald.Unread{}, false, s.fail("delete", err)
	case !wasUnread:
		return herald.Unread{}, false, nil
	}
	return u, true, nil
}

// FindNotifications returns a page selected by f. Each shape of page is one
// statement, prepared once.
func (s *Store) FindNotifications(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q := `SELECT ` + columns + ` FROM notifications WHERE user_id = ?`
	args := []any{f.UserID}
	if !f.WithSilent {
		q += ` AND silent = ?`
		args = append(args, false)
	}
	if f.UnreadOnly {
		q += ` AND read_at IS NULL`
	}
	switch {
	case f.Since > 0 || f.Ascending:
		q += ` AND seq > ? ORDER BY seq ASC LIMIT ?`
		args = append(args, f.Since, limit)
	case f.Before > 0:
		q += ` AND seq < ? ORDER BY seq DESC LIMIT ?`
		args = append(args, f.Before, limit)
	default:
		q += ` ORDER BY seq DESC LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.read(ctx).query(q, args...)
	if err != nil {
		return nil, s.fail("find", err)
	}
	defer rows.Close()
	page := []*herald.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, s.fail("find", err)
		}
		page = append(page, n)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("find", err)
	}
	return page, nil
}

// UnreadCount returns userID's unread count, its version and last seq: one
// row that every change keeps exact in its own transaction.
func (s *Store) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	if err := s.enter(); err != nil {
		return herald.Unread{}, err
	}
	if u, ok := s.mem.countsNow().get(userID); ok {
		return u, nil
	}
	var u herald.Unread
	err := s.read(ctx).queryRow(`SELECT unread, version, last_seq FROM user_seqs WHERE user_id = ?`, userID).Scan(&u.Count, &u.Version, &u.LastSeq)
	switch {
	case isNoRows(err): // no notification was ever created for userID
		return herald.Unread{}, nil
	case err != nil:
		return herald.Unread{}, s.fail("unread count", err)
	}
	return u, nil
}
