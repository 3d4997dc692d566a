package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
)

// preferenceColumns is the select list scanPreferences reads.
const preferenceColumns = `user_id, types, time_zone, quiet_start, quiet_end, email, phone, webhook_url, webhook_secret, updated_at`

func scanPreferences(r scanner) (*herald.Preferences, error) {
	var (
		p          herald.Preferences
		types      json.RawMessage
		start, end string
	)
	err := r.Scan(&p.UserID, nullBytes{&types}, &p.TimeZone, &start, &end, &p.Email, &p.Phone, &p.WebhookURL, &p.WebhookSecret, tm{&p.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(types, &p.Types); err != nil {
		return nil, err
	}
	if len(p.Types) == 0 {
		p.Types = nil
	}
	if start != "" || end != "" {
		p.QuietHours = &herald.QuietHours{Start: start, End: end}
	}
	return &p, nil
}

// FindPreferences returns userID's preferences, or the zero ones.
func (s *Store) FindPreferences(ctx context.Context, userID string) (*herald.Preferences, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	p, err := scanPreferences(s.read(ctx).queryRow(`SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = ?`, userID))
	switch {
	case isNoRows(err):
		return &herald.Preferences{UserID: userID}, nil
	case err != nil:
		return nil, s.fail("find preferences", err)
	}
	return p, nil
}

// UpdatePreferences applies fn to userID's preferences with the row locked,
// so concurrent updates of one user apply one after the other. A user
// without a row gets a placeholder inside the transaction first, which a
// concurrent first update waits for.
func (s *Store) UpdatePreferences(ctx context.Context, userID string, fn func(p *herald.Preferences) error) (*herald.Preferences, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	var p *herald.Preferences
	err := s.inTx(ctx, func(c conn) error {
		made, err := c.execN(`INSERT INTO user_preferences (user_id, types, time_zone, quiet_start, quiet_end, email, phone,
			webhook_url, webhook_secret, updated_at) VALUES (?, '{}', '', '', '', '', '', '', '', ?)
			ON CONFLICT (user_id) DO NOTHING`, userID, time.Unix(0, 0))
		if err != nil {
			return err
		}
		if p, err = scanPreferences(c.queryRow(`SELECT `+preferenceColumns+` FROM user_preferences WHERE user_id = ?`+s.d.ForUpdate, userID)); err != nil {
			return err
		}
		if made == 1 {
			p = &herald.Preferences{UserID: userID} // the placeholder just made
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.UserID != userID {
			return herald.Errorf(herald.EINVALID, "userId cannot change")
		}
		if err := p.Validate(); err != nil {
			return err
		}
		types, err := marshalTypes(p)
		if err != nil {
			return err
		}
		var start, end string
		if p.QuietHours != nil {
			start, end = p.QuietHours.Start, p.QuietHours.End
		}
		p.UpdatedAt = utc(s.now())
		_, err = c.exec(`UPDATE user_preferences SET types = ?, time_zone = ?, quiet_start = ?, quiet_end = ?, email = ?,
			phone = ?, webhook_url = ?, webhook_secret = ?, updated_at = ? WHERE user_id = ?`,
			types, p.TimeZone, start, end, p.Email, p.Phone, p.WebhookURL, p.WebhookSecret, p.UpdatedAt, userID)
		if err == nil {
			c.notePrefs(p.Clone()) // the caller keeps p
		}
		return err
	})
	if err != nil {
		return nil, s.fail("update preferences", err)
	}
	return p, nil
}

// subscriptionColumns is the select list scanSubscription reads.
const subscriptionColumns = `id, user_id, endpoint, p256dh, auth, created_at`

func scanSubscription(r scanner) (*herald.PushSubscription, error) {
	var sub herald.PushSubscription
	if err := r.Scan(&sub.ID, &sub.UserID, &sub.Endpoint, &sub.P256dh, &sub.Auth, tm{&sub.Created}); err != nil {
		return nil, err
	}
	return &sub, nil
}

// pushSubscriptions is the registration table of browsers' push
// subscriptions, by endpoint.
var pushSubscriptions = registration{
	table: "push_subscriptions", key: "endpoint", limit: herald.MaxPushSubscriptions, op: "save push subscription",
	taken: herald.Errorf(herald.ECONFLICT, "This push endpoint is registered to another user"),
	race:  herald.Errorf(herald.ECONFLICT, "This push endpoint was registered at the same moment; try again"),
}

// SavePushSubscription stores sub, replacing the user's own registration of
// its endpoint (another user's is ECONFLICT), and drops the user's oldest
// subscriptions past the limit.
func (s *Store) SavePushSubscription(ctx context.Context, sub *herald.PushSubscription) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	id, created, err := s.saveRegistration(ctx, pushSubscriptions, sub.UserID, sub.Endpoint, func(c conn, id string, created time.Time) error {
		_, err := c.exec(`INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, sub.UserID, sub.Endpoint, sub.P256dh, sub.Auth, created)
		return err
	})
	if err != nil {
		return err
	}
	sub.ID, sub.Created = id, created
	return nil
}

// DeletePushSubscription removes one of userID's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, userID, id string) error {
	if err := s.enter(); err != nil {
		return err
	}
	errGone := herald.Errorf(herald.ENOTFOUND, "push subscription not found")
	id, ok := lookupID(id)
	if !ok {
		return errGone
	}
	n, err := s.write(ctx).execN(`DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return s.fail("delete push subscription", err)
	}
	if n == 0 {
		return errGone
	}
	return nil
}

// FindPushSubscriptions returns userID's subscriptions, oldest first.
func (s *Store) FindPushSubscriptions(ctx context.Context, userID string) ([]*herald.PushSubscription, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	subs, err := s.subsOf(s.read(ctx), []string{userID})
	if err != nil {
		return nil, s.fail("find push subscriptions", err)
	}
	if subs[userID] == nil {
		return []*herald.PushSubscription{}, nil
	}
	return subs[userID], nil
}
