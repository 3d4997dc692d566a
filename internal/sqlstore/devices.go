package sqlstore

import (
	"context"
	"time"

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

// devices is the registration table of mobile devices, by token.
var devices = registration{
	table: "devices", key: "token", limit: herald.MaxDevices, op: "save device",
	taken: herald.Errorf(herald.ECONFLICT, "This device token is registered to another user"),
	race:  herald.Errorf(herald.ECONFLICT, "This device token was registered at the same moment; try again"),
}

// SaveDevice stores d, replacing the user's own registration of its token
// (another user's is ECONFLICT), and drops the user's oldest devices past
// the limit.
func (s *Store) SaveDevice(ctx context.Context, d *herald.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	id, created, err := s.saveRegistration(ctx, devices, d.UserID, d.Token, func(c conn, id string, created time.Time) error {
		_, err := c.exec(`INSERT INTO devices (id, user_id, platform, token, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, d.UserID, string(d.Platform), d.Token, d.AppID, created)
		return err
	})
	if err != nil {
		return err
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
