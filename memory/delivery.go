package memory

import (
	"context"
	"sort"
	"time"

	"github.com/heraldhq/herald"
)

// outbox is the Store's delivery and preference state, guarded by Store.mu
// like the notifications, so a delivery is written with its notification.
type outbox struct {
	deliveries map[string]*herald.Delivery
	prefs      map[string]*herald.Preferences
	subs       map[string]*herald.PushSubscription // by id
	devices    map[string]*herald.Device           // by id
}

var (
	_ herald.DeliveryStore   = (*Store)(nil)
	_ herald.PreferenceStore = (*Store)(nil)

	errDeliveryNotFound = herald.Errorf(herald.ENOTFOUND, "delivery not found")
	errClaimLost        = herald.Errorf(herald.ECONFLICT, "the delivery is no longer held by this attempt")
)

// box returns the outbox, making it on first use. s.mu must be held.
func (s *Store) box() *outbox {
	if s.out == nil {
		s.out = &outbox{
			deliveries: make(map[string]*herald.Delivery),
			prefs:      make(map[string]*herald.Preferences),
			subs:       make(map[string]*herald.PushSubscription),
			devices:    make(map[string]*herald.Device),
		}
	}
	return s.out
}

// utc is how the store keeps times: UTC, to the microsecond, like the
// database stores.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// writeDeliveries stores the deliveries planned for each new notification of
// res and returns the stored copies, by index; replays get none. It runs in
// CreateNotifications' commit, under s.mu.
func (s *Store) writeDeliveries(res []herald.Created, planned [][]*herald.Delivery, now time.Time) [][]*herald.Delivery {
	b := s.box()
	stored := make([][]*herald.Delivery, len(res))
	for i, c := range res {
		if c.Replayed || len(planned[i]) == 0 {
			continue
		}
		n := c.Notification
		stored[i] = make([]*herald.Delivery, len(planned[i]))
		for j, p := range planned[i] {
			d := &herald.Delivery{
				ID:             herald.NewID(),
				NotificationID: n.ID,
				UserID:         n.UserID,
				Type:           n.Type,
				Channel:        p.Channel,
				Kind:           p.Kind,
				Target:         p.Target,
				UnlessRead:     p.UnlessRead,
				Critical:       p.Critical,
				Status:         herald.DeliveryPending,
				DueAt:          utc(p.DueAt),
				CreatedAt:      now,
				UpdatedAt:      now,
			}
			b.deliveries[d.ID] = d
			stored[i][j] = cloneDelivery(d)
		}
	}
	return stored
}

// prefsOf returns a copy of userID's preferences, the zero ones when none
// were saved, for planning. s.mu must be held.
func (s *Store) prefsOf(userID string) *herald.Preferences {
	if p := s.box().prefs[userID]; p != nil {
		return p.Clone()
	}
	return &herald.Preferences{UserID: userID}
}

// planTargets returns copies of userID's push subscriptions and devices,
// oldest first, when want is set, for planning. s.mu must be held.
func (s *Store) planTargets(userID string, want bool) herald.PushTargets {
	var t herald.PushTargets
	if !want {
		return t
	}
	for _, sub := range s.subsOf(userID) {
		c := *sub
		t.Subscriptions = append(t.Subscriptions, &c)
	}
	t.Devices = s.copyDevices(userID)
	return t
}

func cloneDelivery(d *herald.Delivery) *herald.Delivery {
	c := *d
	if d.LeaseUntil != nil {
		t := *d.LeaseUntil
		c.LeaseUntil = &t
	}
	if d.SentAt != nil {
		t := *d.SentAt
		c.SentAt = &t
	}
	c.Notification = nil
	return &c
}

// live reports whether d waits for an attempt: pending or failed.
func live(d *herald.Delivery) bool {
	return d.Status == herald.DeliveryPending || d.Status == herald.DeliveryFailed
}

// claimable reports whether d may be claimed at now, cancelling it instead
// when its notification is gone or, for UnlessRead, read. s.mu must be held.
func (s *Store) claimable(d *herald.Delivery, now time.Time) bool {
	if !live(d) || d.DueAt.After(now) || (d.LeaseUntil != nil && d.LeaseUntil.After(now)) {
		return false
	}
	n := s.byID[d.NotificationID]
	if n == nil || (d.UnlessRead && n.Read) {
		d.Status, d.LeaseUntil, d.UpdatedAt = herald.DeliveryCancelled, nil, now
		if n == nil {
			d.LastError = "notification deleted"
		} else {
			d.LastError = "read in the app"
		}
		return false
	}
	return true
}

// take leases d at now and returns the caller's copy. s.mu must be held.
func (s *Store) take(d *herald.Delivery, now time.Time, lease time.Duration) *herald.Delivery {
	until := now.Add(lease)
	d.Attempts++
	d.LeaseUntil, d.UpdatedAt = &until, now
	c := cloneDelivery(d)
	n := clone(s.byID[d.NotificationID])
	c.Notification = &n
	return c
}

// dueOrder sorts by due time, then id.
func dueOrder(ds []*herald.Delivery) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].DueAt.Equal(ds[j].DueAt) {
			return ds[i].DueAt.Before(ds[j].DueAt)
		}
		return ds[i].ID < ds[j].ID
	})
}

// ClaimDeliveries leases up to limit due deliveries; see herald.DeliveryStore.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*herald.Delivery, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now = utc(now)
	var due []*herald.Delivery
	for _, d := range s.box().deliveries {
		if d.Kind != herald.DeliveryDigest && s.claimable(d, now) {
			due = append(due, d)
		}
	}
	dueOrder(due)
	out := []*herald.Delivery{}
	for _, d := range due {
		if len(out) == limit {
			break
		}
		out = append(out, s.take(d, now, lease))
	}
	return out, nil
}

// ClaimDigest leases the due digest items of the most overdue user.
func (s *Store) ClaimDigest(ctx context.Context, now time.Time, lease time.Duration) ([]*herald.Delivery, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now = utc(now)
	var due []*herald.Delivery
	for _, d := range s.box().deliveries {
		if d.Kind == herald.DeliveryDigest && s.claimable(d, now) {
			due = append(due, d)
		}
	}
	out := []*herald.Delivery{}
	if len(due) == 0 {
		return out, nil
	}
	dueOrder(due)
	user := due[0].UserID
	for _, d := range due {
		if d.UserID == user {
			out = append(out, s.take(d, now, lease))
		}
	}
	return out, nil
}

// FinishDelivery records the outcome of an attempt.
func (s *Store) FinishDelivery(ctx context.Context, id string, attempt int, r herald.DeliveryResult) error {
	unlock, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	d := s.box().deliveries[id]
	if d == nil {
		return errDeliveryNotFound
	}
	if d.Attempts != attempt || !live(d) {
		return errClaimLost
	}
	at := utc(r.At)
	d.Status, d.LeaseUntil, d.UpdatedAt, d.LastError = r.Status, nil, at, r.Error
	switch r.Status {
	case herald.DeliverySent:
		d.SentAt = &at
	case herald.DeliveryFailed:
		d.DueAt = utc(r.RetryAt)
	}
	return nil
}

// CancelUnread cancels userID's pending UnlessRead deliveries of read or
// deleted notifications.
func (s *Store) CancelUnread(ctx context.Context, userID, notificationID string, at time.Time) (int, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if notificationID != "" {
		id, err := herald.ParseID(notificationID)
		if err != nil {
			return 0, nil
		}
		notificationID = id
	}
	at = utc(at)
	n := 0
	for _, d := range s.box().deliveries {
		if d.UserID != userID || !d.UnlessRead || !live(d) || (notificationID != "" && d.NotificationID != notificationID) {
			continue
		}
		if d.LeaseUntil != nil && d.LeaseUntil.After(at) {
			continue
		}
		if note := s.byID[d.NotificationID]; note != nil && !note.Read {
			continue
		}
		d.Status, d.LeaseUntil, d.UpdatedAt, d.LastError = herald.DeliveryCancelled, nil, at, "read in the app"
		n++
	}
	return n, nil
}

// FindDeliveries returns the deliveries f selects, newest first.
func (s *Store) FindDeliveries(ctx context.Context, f herald.DeliveryFilter) ([]*herald.Delivery, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	if f.NotificationID != "" {
		id, err := herald.ParseID(f.NotificationID)
		if err != nil {
			return []*herald.Delivery{}, nil
		}
		f.NotificationID = id
	}
	var match []*herald.Delivery
	for _, d := range s.box().deliveries {
		if (f.UserID != "" && d.UserID != f.UserID) || (f.NotificationID != "" && d.NotificationID != f.NotificationID) ||
			(f.Status != "" && d.Status != f.Status) || (f.Before != "" && d.ID >= f.Before) {
			continue
		}
		match = append(match, d)
	}
	if f.UserID == "" && f.NotificationID == "" {
		match = nil
	}
	sort.Slice(match, func(i, j int) bool { return match[i].ID > match[j].ID })
	out := make([]*herald.Delivery, 0, min(len(match), limit))
	for _, d := range match {
		if len(out) == limit {
			break
		}
		out = append(out, cloneDelivery(d))
	}
	return out, nil
}

// CountDeliveries counts pending, failed and dead deliveries.
func (s *Store) CountDeliveries(ctx context.Context) (map[herald.DeliveryStatus]int, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := map[herald.DeliveryStatus]int{herald.DeliveryPending: 0, herald.DeliveryFailed: 0, herald.DeliveryDead: 0}
	for _, d := range s.box().deliveries {
		if _, ok := out[d.Status]; ok {
			out[d.Status]++
		}
	}
	return out, nil
}

// PurgeDeliveries deletes finished deliveries last updated before before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n := 0
	for id, d := range s.box().deliveries {
		if d.Status.Final() && d.UpdatedAt.Before(before) {
			delete(s.out.deliveries, id)
			n++
		}
	}
	return n, nil
}
