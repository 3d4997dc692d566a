package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
)

// preferenceColumns is the select list scanPreferences reads.
const preferenceColumns = `user_id, types::text, time_zone, quiet_start, quiet_end, email, phone, webhook_url, webhook_secret, updated_at`

func scanPreferences(row pgx.Row) (*herald.Preferences, error) {
	var (
		p                 herald.Preferences
		types, start, end string
	)
	err := row.Scan(&p.UserID, &types, &p.TimeZone, &start, &end, &p.Email, &p.Phone, &p.WebhookURL, &p.WebhookSecret, &p.UpdatedAt)
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
	p.UpdatedAt = p.UpdatedAt.UTC()
	return &p, nil
}

// FindPreferences returns userID's preferences, or the zero ones.
func (s *Store) FindPreferences(ctx context.Context, userID string) (*herald.Preferences, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	p, err := scanPreferences(s.pool.QueryRow(ctx, `SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = $1`, userID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &herald.Preferences{UserID: userID}, nil
	case err != nil:
		return nil, storeError("find preferences", err)
	}
	return p, nil
}

// UpdatePreferences applies fn to userID's preferences with the row locked,
// so concurrent updates of one user apply one after the other. A user without
// a row gets one inside the transaction first, which a concurrent first
// update waits for.
func (s *Store) UpdatePreferences(ctx context.Context, userID string, fn func(p *herald.Preferences) error) (*herald.Preferences, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO user_preferences (user_id, types, time_zone, quiet_start, quiet_end, email, phone,
		webhook_url, webhook_secret, updated_at) VALUES ($1, '{}', '', '', '', '', '', '', '', 'epoch')
		ON CONFLICT (user_id) DO NOTHING`, userID)
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	p, err := scanPreferences(tx.QueryRow(ctx, `SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = $1 FOR UPDATE`, userID))
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	if tag.RowsAffected() == 1 {
		p = &herald.Preferences{UserID: userID} // the placeholder just made
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
	p.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	_, err = tx.Exec(ctx, `UPDATE user_preferences SET types = $2::jsonb, time_zone = $3, quiet_start = $4, quiet_end = $5,
		email = $6, phone = $7, webhook_url = $8, webhook_secret = $9, updated_at = $10 WHERE user_id = $1`,
		userID, string(types), p.TimeZone, start, end, p.Email, p.Phone, p.WebhookURL, p.WebhookSecret, p.UpdatedAt)
	if err != nil {
		return nil, storeError("update preferences", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError("update preferences", err)
	}
	return p, nil
}

// SavePushSubscription stores sub, replacing the user's own registration of
// its endpoint (another user's is ECONFLICT), and drops the user's oldest
// subscriptions past the limit.
func (s *Store) SavePushSubscription(ctx context.Context, sub *herald.PushSubscription) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	id, created := herald.NewID(), s.now().UTC().Truncate(time.Microsecond)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return storeError("save push subscription", err)
	}
	defer tx.Rollback(ctx)
	// The user's rows are locked in id order first, so two saves for one
	// user count and evict one after the other.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM push_subscriptions WHERE user_id = $1 ORDER BY id FOR UPDATE`, sub.UserID); err != nil {
		return storeError("save push subscription", err)
	}
	var holder string
	switch err := tx.QueryRow(ctx, `SELECT user_id FROM push_subscriptions WHERE endpoint = $1 FOR UPDATE`, sub.Endpoint).Scan(&holder); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return storeError("save push subscription", err)
	case holder != sub.UserID:
		return errEndpointTaken
	}
	if _, err := tx.Exec(ctx, `DELETE FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2`, sub.Endpoint, sub.UserID); err != nil {
		return storeError("save push subscription", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM push_subscriptions WHERE id IN (
			SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2)`,
		sub.UserID, herald.MaxPushSubscriptions-1); err != nil {
		return storeError("save push subscription", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, sub.UserID, sub.Endpoint, sub.P256dh, sub.Auth, created); err != nil {
		if pgCode(err) == codeUniqueViolation { // another save of the endpoint committed first
			return errEndpointRace
		}
		return storeError("save push subscription", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return storeError("save push subscription", err)
	}
	sub.ID, sub.Created = id, created
	return nil
}

// errEndpointTaken refuses to register an endpoint another user holds: moving
// it would let anyone who learns an endpoint URL take over its pushes.
var errEndpointTaken = herald.Errorf(herald.ECONFLICT, "This push endpoint is registered to another user")

// errEndpointRace answers the loser of two registrations of one endpoint at
// the same moment.
var errEndpointRace = herald.Errorf(herald.ECONFLICT, "This push endpoint was registered at the same moment; try again")

// DeletePushSubscription removes one of userID's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, userID, id string) error {
	if s.closed.Load() {
		return errClosed
	}
	errGone := herald.Errorf(herald.ENOTFOUND, "push subscription not found")
	if _, ok := lookupID(id); !ok {
		return errGone
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return storeError("delete push subscription", err)
	}
	if tag.RowsAffected() == 0 {
		return errGone
	}
	return nil
}

// FindPushSubscriptions returns userID's subscriptions, oldest first.
func (s *Store) FindPushSubscriptions(ctx context.Context, userID string) ([]*herald.PushSubscription, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text, user_id, endpoint, p256dh, auth, created_at
		FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, storeError("find push subscriptions", err)
	}
	defer rows.Close()
	out := []*herald.PushSubscription{}
	for rows.Next() {
		var sub herald.PushSubscription
		if err := rows.Scan(&sub.ID, &sub.UserID, &sub.Endpoint, &sub.P256dh, &sub.Auth, &sub.Created); err != nil {
			return nil, storeError("find push subscriptions", err)
		}
		sub.Created = sub.Created.UTC()
		out = append(out, &sub)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("find push subscriptions", err)
	}
	return out, nil
}
