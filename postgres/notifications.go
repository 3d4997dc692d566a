package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
)

// MarkRead marks one of userID's notifications read at at (now when zero).
func (s *Store) MarkRead(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	id, ok := lookupID(id)
	if !ok {
		return false, errNotFound
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	// One round trip tells "not yours" from "already read". The update
	// rechecks read_at on the row it locks, so of two concurrent calls only
	// one reports the change.
	var exists, changed bool
	err := s.pool.QueryRow(ctx, `
		WITH target AS (
			SELECT id FROM notifications WHERE id = $2 AND user_id = $3
		), updated AS (
			UPDATE notifications n SET read_at = $1
			FROM target WHERE n.id = target.id AND n.read_at IS NULL
			RETURNING n.id
		)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM updated)`,
		at, id, userID).Scan(&exists, &changed)
	if err != nil {
		return false, storeError("mark read", err)
	}
	if !exists {
		return false, errNotFound
	}
	return changed, nil
}

// MarkAllRead marks every unread notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	if at.IsZero() {
		at = s.now()
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL`,
		at.UTC().Truncate(time.Microsecond), userID)
	if err != nil {
		return 0, storeError("mark all read", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteNotification removes one of userID's notifications. Its seq stays
// used, and its idempotency key is forgotten with it.
func (s *Store) DeleteNotification(ctx context.Context, userID, id string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	id, ok := lookupID(id)
	if !ok {
		return false, errNotFound
	}
	var wasUnread bool
	err := s.pool.QueryRow(ctx,
		`DELETE FROM notifications WHERE id = $1 AND user_id = $2 RETURNING read_at IS NULL`,
		id, userID).Scan(&wasUnread)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, errNotFound
	case err != nil:
		return false, storeError("delete", err)
	}
	return wasUnread, nil
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

	q := `SELECT ` + columns + ` FROM notifications WHERE user_id = $1`
	args := []any{f.UserID}
	if f.UnreadOnly {
		q += ` AND read_at IS NULL`
	}
	switch {
	case f.Since > 0 || f.Ascending:
		q += ` AND seq > $2 ORDER BY seq ASC LIMIT $3`
		args = append(args, f.Since, limit)
	case f.Before > 0:
		q += ` AND seq < $2 ORDER BY seq DESC LIMIT $3`
		args = append(args, f.Before, limit)
	default:
		q += ` ORDER BY seq DESC LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
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

// UnreadCount counts userID's unread notifications, from an index of unread
// ones only.
func (s *Store) UnreadCount(ctx context.Context, userID string) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var n int
	err := s.pool.QueryRow(ctx,
		`SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, storeError("unread count", err)
	}
	return n, nil
}
