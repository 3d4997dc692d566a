package sqlstore

import (
	"context"

	"github.com/heraldhq/herald"
)

// deviceColumns is the select list scanDevice reads.
const deviceColumns = `id, user_id, platform, token, app_id, created_at`

func scanDevice(r scanner) (*herald.Device, error) {
	var (
		d        herald.Device
		platform string
	)
	if err := r.Scan(&d.ID, &d.UserID, &platform, &d.Token, &d.AppID, tm{&d.Created}); err != nil {
		return nil, err
	}
	d.Platform = herald.Platform(platform)
	return &d, nil
}

// errTokenTaken refuses to register a device token another user holds:
// moving it would let anyone who learns a token take over its pushes.
var errTokenTaken = herald.Errorf(herald.ECONFLICT, "This device token is registered to another user")

// errTokenRace answers the loser of two registrations of one token at the
// same moment.
var errTokenRace = herald.Errorf(herald.ECONFLICT, "This device token was registered at the same moment; try again")

// SaveDevice stores d, replacing the user's own registration of its token
// (another user's is ECONFLICT), and drops the user's oldest devices past
// the limit.
func (s *Store) SaveDevice(ctx context.Context, d *herald.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	id, created := herald.NewID(), utc(s.now())
	err := s.inTx(ctx, func(c conn) error {
		// The user's rows are locked in id order first (PostgreSQL), so two
		// saves for one user count and evict one after the other.
		rows, err := c.query(`SELECT id FROM devices WHERE user_id = ? ORDER BY id`+s.d.ForUpdate, d.UserID)
		if err != nil {
			return err
		}
		for rows.Next() { // each row fetched is locked
		}
		if err := rows.Close(); err != nil {
			return err
		}
		var holder string
		switch err := c.queryRow(`SELECT user_id FROM devices WHERE token = ?`+s.d.ForUpdate, d.Token).Scan(&holder); {
		case isNoRows(err):
		case err != nil:
			return err
		case holder != d.UserID:
			return errTokenTaken
		}
		if _, err := c.exec(`DELETE FROM devices WHERE token = ? AND user_id = ?`, d.Token, d.UserID); err != nil {
			return err
		}
		if _, err := c.exec(`DELETE FROM devices WHERE user_id = ? AND id NOT IN (
				SELECT id FROM devices WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)`,
			d.UserID, d.UserID, herald.MaxDevices-1); err != nil {
			return err
		}
		_, err = c.exec(`INSERT INTO devices (id, user_id, platform, token, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, d.UserID, string(d.Platform), d.Token, d.AppID, created)
		if f, _ := s.d.Classify(err); f == FaultUnique { // another save of the token committed first
			return errTokenRace
		}
		return err
	})
	if err == errTokenTaken || err == errTokenRace {
		return err
	}
	if err != nil {
		return s.fail("save device", err)
	}
	d.ID, d.Created = id, created
	return nil
}

// DeleteDevice removes one of userID's devices.
func (s *Store) DeleteDevice(ctx context.Context, userID, id string) error {
	if err := s.enter(); err != nil {
		return err
	}
	errGone := herald.Errorf(herald.ENOTFOUND, "device not found")
	id, ok := lookupID(id)
	if !ok {
		return errGone
	}
	n, err := s.write(ctx).execN(`DELETE FROM devices WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return s.fail("delete device", err)
	}
	if n == 0 {
		return errGone
	}
	return nil
}

// FindDevices returns userID's devices, oldest first.
func (s *Store) FindDevices(ctx context.Context, userID string) ([]*herald.Device, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	ds, err := s.devicesOf(s.read(ctx), []string{userID})
	if err != nil {
		return nil, s.fail("find devices", err)
	}
	if ds[userID] == nil {
		return []*herald.Device{}, nil
	}
	return ds[userID], nil
}

// devicesOf returns the devices of users, oldest first, by user.
func (s *Store) devicesOf(c conn, users []string) (map[string][]*herald.Device, error) {
	out := make(map[string][]*herald.Device)
	_, err := c.bulk(`SELECT `+deviceColumns+` FROM devices WHERE user_id IN (%s) ORDER BY user_id, created_at, id`,
		userCols, userRows(users), nil, nil, func(r scanner) error {
			d, err := scanDevice(r)
			if err == nil {
				out[d.UserID] = append(out[d.UserID], d)
			}
			return err
		})
	return out, err
}
