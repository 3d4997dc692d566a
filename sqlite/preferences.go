package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/heraldhq/herald"
)

// preferenceColumns is the select list scanPreferences reads.
const preferenceColumns = `user_id, types, time_zone, quiet_start, quiet_end, email, phone, webhook_url, webhook_secret, updated_at`

func scanPreferences(row scanner) (*herald.Preferences, error) {
	var (
		p                 herald.Preferences
		types, start, end string
		updated           int64
	)
	err := row.Scan(&p.UserID, &types, &p.TimeZone, &start, &end, &p.Email, &p.Phone, &p.WebhookURL, &p.WebhookSecret, &updated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &p.Types); err != nil {
		return nil, err
	}
	if len(p.Types) == 0 {
		p.Types = nil
	}
	if start != "" || end != "" {
		p.QuietHours = &herald.QuietHours{Start: start, End: end}
	}
	p.UpdatedAt = fromMicros(updated)
	return &p, nil
}

// FindPreferences returns userID's preferences, or the zero ones.
func (s *Store) FindPreferences(ctx context.Context, userID string) (*herald.Preferences, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	p, err := scanPreferences(s.readers.QueryRowContext(ctx,
		`SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = ?`, userID))
	switch {
	case isNoRows(err):
		return &herald.Preferences{UserID: userID}, nil
	case err != nil:
		return nil, storeError("find preferences", err)
	}
	return p, nil
}

// UpdatePreferences applies fn to userID's preferences in a write
// transaction: the single writer runs concurrent updates one after the other.
func (s *Store) UpdatePreferences(ctx context.Context, userID string, fn func(p *herald.Preferences) error) (*herald.Preferences, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	defer tx.Rollback()
	p, err := scanPreferences(tx.QueryRowContext(ctx, `SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = ?`, userID))
	switch {
	case isNoRows(err):
		p = &herald.Preferences{UserID: userID}
	case err != nil:
		return nil, storeError("update preferences", err)
	}
	if err := fn(p); err != nil {
		return nil, err
	}
	if p.UserID != userID {
		return nil, herald.Errorf(herald.EINVALID, "userId cannot change")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	types := []byte("{}")
	if len(p.Types) > 0 {
		if types, err = json.Marshal(p.Types); err != nil {
			return nil, err
		}
	}
	var start, end string
	if p.QuietHours != nil {
		start, end = p.QuietHours.Start, p.QuietHours.End
	}
	p.UpdatedAt = fromMicros(micros(s.now()))
	_, err = tx.ExecContext(ctx, `INSERT INTO user_preferences (`+preferenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET types = excluded.types, time_zone = excluded.time_zone,
			quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, email = excluded.email,
			phone = excluded.phone, webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret,
			updated_at = excluded.updated_at`,
		userID, string(types), p.TimeZone, start, end, p.Email, p.Phone, p.WebhookURL, p.WebhookSecret, micros(p.UpdatedAt))
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, storeError("update preferences", err)
	}
	return p, nil
}

// SavePushSubscription stores sub, moving its endpoint to sub.UserID, and
// drops the user's oldest subscriptions past the limit.
func (s *Store) SavePushSubscription(ctx context.Context, sub *herald.PushSubscription) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return storeError("save push subscription", err)
	}
	defer tx.Rollback()
	id, created := herald.NewID(), fromMicros(micros(s.now()))
	if _, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE endpoint = ?`, sub.Endpoint); err != nil {
		return storeError("save push subscription", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id IN (
			SELECT id FROM push_subscriptions WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)`,
		sub.UserID, herald.MaxPushSubscriptions-1); err != nil {
		return storeError("save push subscription", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, sub.UserID, sub.Endpoint, sub.P256dh, sub.Auth, micros(created)); err != nil {
		return storeError("save push subscription", err)
	}
	if err := tx.Commit(); err != nil {
		return storeError("save push subscription", err)
	}
	sub.ID, sub.Created = id, created
	return nil
}

// DeletePushSubscription removes one of userID's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, userID, id string) error {
	if s.closed.Load() {
		return errClosed
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return storeError("delete push subscription", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeError("delete push subscription", err)
	} else if n == 0 {
		return herald.Errorf(herald.ENOTFOUND, "push subscription not found")
	}
	return nil
}

// FindPushSubscriptions returns userID's subscriptions, oldest first.
func (s *Store) FindPushSubscriptions(ctx context.Context, userID string) ([]*herald.PushSubscription, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out, err := findPushSubscriptions(ctx, s.readers, userID)
	return out, storeErrorOrNil("find push subscriptions", err)
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// findPushSubscriptions reads userID's subscriptions, oldest first, through q.
func findPushSubscriptions(ctx context.Context, q queryer, userID string) ([]*herald.PushSubscription, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, endpoint, p256dh, auth, created_at
		FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*herald.PushSubscription{}
	for rows.Next() {
		var sub herald.PushSubscription
		var created int64
		if err := rows.Scan(&sub.ID, &sub.UserID, &sub.Endpoint, &sub.P256dh, &sub.Auth, &created); err != nil {
			return nil, err
		}
		sub.Created = fromMicros(created)
		out = append(out, &sub)
	}
	return out, rows.Err()
}
