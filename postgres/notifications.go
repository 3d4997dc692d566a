package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
)

// counterFirst is the first step of every statement that changes a user's
// notifications: it locks the user's counter row (user_seqs), which the
// statement's later steps join, before they touch any notification row.
// Creates lock that row first too, so every writer of a user's notifications
// queues on it in one order. Otherwise a read or delete that holds a
// notification row while it waits for the counter could deadlock with a
// create that holds the counter while its unique-key check waits for that
// notification row. The statements take the user id as $1.
const counterFirst = `counter AS (
			SELECT user_id FROM user_seqs WHERE user_id = $1 FOR NO KEY UPDATE
		)`

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
	at = at.UTC().Truncate(time.Microsecond)
	// One round trip tells "not yours" from "already read" and moves the
	// unread count. The update rechecks read_at on the row it locks, so of two
	// concurrent calls only one reports the change and takes it off the count.
	var (
		exists, changed      bool
		count, version, last *int64
	)
	err := s.pool.QueryRow(ctx, `
		WITH `+counterFirst+`, target AS (
			SELECT id FROM notifications WHERE id = $2 AND user_id = $1
		), updated AS (
			UPDATE notifications n SET read_at = $3
			FROM target, counter WHERE n.id = target.id AND n.read_at IS NULL
			RETURNING n.id
		), counted AS (
			UPDATE user_seqs s SET unread = s.unread - 1, version = s.version + 1
			FROM updated WHERE s.user_id = $1
			RETURNING s.unread, s.version, s.last_seq
		)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM updated),
			(SELECT unread FROM counted), (SELECT version FROM counted), (SELECT last_seq FROM counted)`,
		userID, id, at).Scan(&exists, &changed, &count, &version, &last)
	if err != nil {
		return herald.Unread{}, false, storeError("mark read", err)
	}
	if !exists {
		return herald.Unread{}, false, errNotFound
	}
	if !changed || count == nil || version == nil || last == nil {
		return herald.Unread{}, false, nil
	}
	return herald.Unread{Count: int(*count), Version: *version, LastSeq: *last}, true, nil
}

// MarkAllRead marks every unread notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, herald.Unread, error) {
	if s.closed.Load() {
		return 0, herald.Unread{}, errClosed
	}
	if at.IsZero() {
		at = s.now()
	}
	// The count drops by what this statement changed rather than to zero: a
	// create that committed while the statement waited for the counter row
	// added notifications the statement does not see, and they stay unread.
	var (
		n              int
		u              herald.Unread
		count, version *int64
		last           *int64
	)
	err := s.pool.QueryRow(ctx, `
		WITH `+counterFirst+`, updated AS (
			UPDATE notifications n SET read_at = $2
			FROM counter WHERE n.user_id = $1 AND n.read_at IS NULL
			RETURNING 1
		), changed AS (
			SELECT count(*) AS n FROM updated
		), counted AS (
			UPDATE user_seqs s SET unread = s.unread - changed.n, version = s.version + 1
			FROM changed WHERE s.user_id = $1 AND changed.n > 0
			RETURNING s.unread, s.version, s.last_seq
		)
		SELECT n, (SELECT unread FROM counted), (SELECT version FROM counted), (SELECT last_seq FROM counted) FROM changed`,
		userID, at.UTC().Truncate(time.Microsecond)).Scan(&n, &count, &version, &last)
	if err != nil {
		return 0, herald.Unread{}, storeError("mark all read", err)
	}
	if n == 0 || count == nil || version == nil || last == nil {
		return n, herald.Unread{}, nil
	}
	u.Count, u.Version, u.LastSeq = int(*count), *version, *last
	return n, u, nil
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
		wasUnread            bool
		count, version, last *int64
	)
	err := s.pool.QueryRow(ctx, `
		WITH `+counterFirst+`, deleted AS (
			DELETE FROM notifications n USING counter WHERE n.id = $2 AND n.user_id = $1
			RETURNING n.read_at IS NULL AS unread
		), counted AS (
			UPDATE user_seqs s SET unread = s.unread - 1, version = s.version + 1
			FROM deleted WHERE s.user_id = $1 AND deleted.unread
			RETURNING s.unread, s.version, s.last_seq
		)
		SELECT unread, (SELECT unread FROM counted), (SELECT version FROM counted), (SELECT last_seq FROM counted) FROM deleted`,
		userID, id).Scan(&wasUnread, &count, &version, &last)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return herald.Unread{}, false, errNotFound
	case err != nil:
		return herald.Unread{}, false, storeError("delete", err)
	}
	if !wasUnread || count == nil || version == nil || last == nil {
		return herald.Unread{}, false, nil
	}
	return herald.Unread{Count: int(*count), Version: *version, LastSeq: *last}, true, nil
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
	if !f.WithSilent {
		q += ` AND NOT silent`
	}
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

// UnreadCount returns userID's unread count, one row that every change of
// read state keeps exact in its own statement.
func (s *Store) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	if s.closed.Load() {
		return herald.Unread{}, errClosed
	}
	var u herald.Unread
	err := s.pool.QueryRow(ctx, `SELECT unread, version, last_seq FROM user_seqs WHERE user_id = $1`, userID).Scan(&u.Count, &u.Version, &u.LastSeq)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // no notification was ever created for userID
		return herald.Unread{}, nil
	case err != nil:
		return herald.Unread{}, storeError("unread count", err)
	}
	return u, nil
}
