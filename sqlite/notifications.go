package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald"
)

// MarkRead marks one of userID's notifications read at at (now when zero).
func (s *Store) MarkRead(ctx context.Context, userID, id string, at time.Time) (herald.Unread, bool, error) {
	if s.closed.Load() {
		return herald.Unread{}, false, errClosed
	}
	id, ok := lookupID(id)
	if !ok {
		return herald.Unread{}, false, errNotFound
	}
	if at.IsZero() {
		at = s.now()
	}
	var (
		changed bool
		u       herald.Unread
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`,
			micros(at), id, userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		changed = true
		u, err = uncount(ctx, tx, userID, n)
		return err
	})
	if err != nil {
		return herald.Unread{}, false, storeError("mark read", err)
	}
	if changed {
		return u, true, nil
	}
	// Nothing changed: already read, or not userID's to mark.
	var one int
	err = s.readers.QueryRowContext(ctx, `SELECT 1 FROM notifications WHERE id = ? AND user_id = ?`, id, userID).Scan(&one)
	switch {
	case isNoRows(err):
		return herald.Unread{}, false, errNotFound
	case err != nil:
		return herald.Unread{}, false, storeError("mark read", err)
	}
	return herald.Unread{}, false, nil
}

// MarkAllRead marks every unread notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, herald.Unread, error) {
	if s.closed.Load() {
		return 0, herald.Unread{}, errClosed
	}
	if at.IsZero() {
		at = s.now()
	}
	var (
		n int64
		u herald.Unread
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, micros(at), userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		u, err = uncount(ctx, tx, userID, n)
		return err
	})
	if err != nil {
		return 0, herald.Unread{}, storeError("mark all read", err)
	}
	return int(n), u, nil
}

// DeleteNotification removes one of userID's notifications. Its seq stays
// used, and its idempotency key is forgotten with it.
func (s *Store) DeleteNotification(ctx context.Context, userID, id string) (herald.Unread, bool, error) {
	if s.closed.Load() {
		return herald.Unread{}, false, errClosed
	}
	id, ok := lookupID(id)
	if !ok {
		return herald.Unread{}, false, errNotFound
	}
	var (
		wasUnread bool
		u         herald.Unread
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`DELETE FROM notifications WHERE id = ? AND user_id = ? RETURNING read_at IS NULL`, id, userID).Scan(&wasUnread)
		if err != nil || !wasUnread {
			return err
		}
		u, err = uncount(ctx, tx, userID, 1)
		return err
	})
	switch {
	case isNoRows(err):
		return herald.Unread{}, false, errNotFound
	case err != nil:
		return herald.Unread{}, false, storeError("delete", err)
	}
	return u, wasUnread, nil
}

// write runs fn in a transaction on the writer and commits it when fn
// succeeds.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// uncount takes n notifications that stopped being unread off userID's
// unread count, in the transaction that changed them, and returns the count
// and version it leaves.
func uncount(ctx context.Context, tx *sql.Tx, userID string, n int64) (herald.Unread, error) {
	var u herald.Unread
	err := tx.QueryRowContext(ctx, `UPDATE user_seqs SET unread = unread - ?, version = version + 1 WHERE user_id = ?
		RETURNING unread, version, last_seq`, n, userID).Scan(&u.Count, &u.Version, &u.LastSeq)
	return u, err
}

// FindNotifications returns a page selected by f.
func (s *Store) FindNotifications(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)

	q := `SELECT ` + columns + ` FROM notifications WHERE user_id = ?`
	args := []any{f.UserID}
	if !f.WithSilent {
		q += ` AND silent = 0`
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
	rows, err := s.readers.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, storeError("find", err)
	}
	defer rows.Close()
	page := []*herald.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, storeError("find", err)
		}
		page = append(page, n)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("find", err)
	}
	return page, nil
}

// UnreadCount returns userID's unread count, one row that every change of
// read state keeps exact in its own transaction.
func (s *Store) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	if s.closed.Load() {
		return herald.Unread{}, errClosed
	}
	var u herald.Unread
	err := s.stmts.unread.QueryRowContext(ctx, userID).Scan(&u.Count, &u.Version, &u.LastSeq)
	switch {
	case isNoRows(err): // no notification was ever created for userID
		return herald.Unread{}, nil
	case err != nil:
		return herald.Unread{}, storeError("unread count", err)
	}
	return u, nil
}
