package sqlstore

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// registration describes a table of push targets that users register: a
// mobile device's token, a browser's push endpoint. Each row belongs to one
// user, is unique by its key column across all users, and a user holds at
// most limit rows. SaveDevice and SavePushSubscription both store through
// saveRegistration, so the two tables follow one set of rules.
type registration struct {
	table string // devices, push_subscriptions
	key   string // the column unique across users: token, endpoint
	limit int    // rows per user
	op    string // names the operation in errors
	// taken refuses a key another user holds: moving it would let anyone
	// who learns a token or an endpoint URL take over its pushes.
	taken error
	// race answers the loser of two registrations of one key at the same
	// moment.
	race error
}

// saveRegistration stores a row of r for user under key, in one
// transaction: it locks the user's rows, refuses a key another user holds,
// replaces the user's own row of that key, drops the user's oldest rows
// past the limit and inserts the new one with insert, which gets the new
// row's id and creation time. It returns them.
func (s *Store) saveRegistration(ctx context.Context, r registration, user, key string,
	insert func(c conn, id string, created time.Time) error) (string, time.Time, error) {
	if err := s.enter(); err != nil {
		return "", time.Time{}, err
	}
	id, created := herald.NewID(), utc(s.now())
	err := s.inTx(ctx, func(c conn) error {
		// The user's rows are locked in id order first (PostgreSQL), so two
		// saves for one user count and evict one after the other.
		rows, err := c.query(`SELECT id FROM `+r.table+` WHERE user_id = ? ORDER BY id`+s.d.ForUpdate, user)
		if err != nil {
			return err
		}
		for rows.Next() { // each row fetched is locked
		}
		if err := rows.Close(); err != nil {
			return err
		}
		var holder string
		switch err := c.queryRow(`SELECT user_id FROM `+r.table+` WHERE `+r.key+` = ?`+s.d.ForUpdate, key).Scan(&holder); {
		case isNoRows(err):
		case err != nil:
			return err
		case holder != user:
			return r.taken
		}
		if _, err := c.exec(`DELETE FROM `+r.table+` WHERE `+r.key+` = ? AND user_id = ?`, key, user); err != nil {
			return err
		}
		if _, err := c.exec(`DELETE FROM `+r.table+` WHERE user_id = ? AND id NOT IN (
				SELECT id FROM `+r.table+` WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)`,
			user, user, r.limit-1); err != nil {
			return err
		}
		err = insert(c, id, created)
		if f, _ := s.d.Classify(err); f == FaultUnique { // another save of the key committed first
			return r.race
		}
		return err
	})
	if err != nil {
		return "", time.Time{}, s.fail(r.op, err)
	}
	return id, created, nil
}
