package memory

import (
	"context"
	"sort"

	"github.com/heraldhq/herald"
)

var _ herald.DeviceStore = (*Store)(nil)

// errTokenTaken refuses to register a device token another user holds:
// moving it would let anyone who learns a token take over its pushes.
var errTokenTaken = herald.Errorf(herald.ECONFLICT, "This device token is registered to another user")

// SaveDevice stores d, replacing the user's own registration of its token;
// another user's is ECONFLICT.
func (s *Store) SaveDevice(ctx context.Context, d *herald.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	unlock, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	b := s.box()
	for id, old := range b.devices {
		if old.Token != d.Token {
			continue
		}
		if old.UserID != d.UserID {
			return errTokenTaken
		}
		delete(b.devices, id)
	}
	mine := s.devicesOf(d.UserID)
	for len(mine) >= herald.MaxDevices {
		delete(b.devices, mine[0].ID)
		mine = mine[1:]
	}
	d.ID, d.Created = herald.NewID(), utc(s.now())
	c := *d
	b.devices[c.ID] = &c
	return nil
}

// devicesOf returns userID's devices, oldest first. s.mu must be held.
func (s *Store) devicesOf(userID string) []*herald.Device {
	var out []*herald.Device
	for _, d := range s.box().devices {
		if d.UserID == userID {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// DeleteDevice removes one of userID's devices.
func (s *Store) DeleteDevice(ctx context.Context, userID, id string) error {
	unlock, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	d := s.box().devices[id]
	if d == nil || d.UserID != userID {
		return herald.Errorf(herald.ENOTFOUND, "device not found")
	}
	delete(s.out.devices, id)
	return nil
}

// FindDevices returns copies of userID's devices, oldest first.
func (s *Store) FindDevices(ctx context.Context, userID string) ([]*herald.Device, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.copyDevices(userID), nil
}

// copyDevices returns copies of userID's devices. s.mu must be held.
func (s *Store) copyDevices(userID string) []*herald.Device {
	out := []*herald.Device{}
	for _, d := range s.devicesOf(userID) {
		c := *d
		out = append(out, &c)
	}
	return out
}
