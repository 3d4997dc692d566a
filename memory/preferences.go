package memory

import (
	"context"
	"sort"

	"github.com/heraldhq/herald"
)

// FindPreferences returns userID's preferences, or the zero ones.
func (s *Store) FindPreferences(ctx context.Context, userID string) (*herald.Preferences, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if p := s.box().prefs[userID]; p != nil {
		return p.Clone(), nil
	}
	return &herald.Preferences{UserID: userID}, nil
}

// UpdatePreferences applies fn to userID's preferences under the store's
// lock, so concurrent updates apply one after the other.
func (s *Store) UpdatePreferences(ctx context.Context, userID string, fn func(p *herald.Preferences) error) (*herald.Preferences, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p := &herald.Preferences{UserID: userID}
	if old := s.box().prefs[userID]; old != nil {
		p = old.Clone()
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
	p.UpdatedAt = utc(s.now())
	s.out.prefs[userID] = p.Clone()
	return p, nil
}

// SavePushSubscription stores sub, replacing the user's own registration of
// its endpoint; another user's is ECONFLICT.
func (s *Store) SavePushSubscription(ctx context.Context, sub *herald.PushSubscription) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	unlock, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	b := s.box()
	for id, old := range b.subs {
		if old.Endpoint != sub.Endpoint {
			continue
		}
		if old.UserID != sub.UserID {
			return errEndpointTaken
		}
		delete(b.subs, id)
	}
	mine := s.subsOf(sub.UserID)
	for len(mine) >= herald.MaxPushSubscriptions {
		delete(b.subs, mine[0].ID)
		mine = mine[1:]
	}
	sub.ID, sub.Created = herald.NewID(), utc(s.now())
	c := *sub
	b.subs[c.ID] = &c
	return nil
}

// errEndpointTaken refuses to register an endpoint another user holds: moving
// it would let anyone who learns an endpoint URL take over its pushes.
var errEndpointTaken = herald.Errorf(herald.ECONFLICT, "This push endpoint is registered to another user")

// subsOf returns userID's subscriptions, oldest first. s.mu must be held.
func (s *Store) subsOf(userID string) []*herald.PushSubscription {
	var out []*herald.PushSubscription
	for _, sub := range s.box().subs {
		if sub.UserID == userID {
			out = append(out, sub)
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

// DeletePushSubscription removes one of userID's subscriptions.
func (s *Store) DeletePushSubscription(ctx context.Context, userID, id string) error {
	unlock, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	sub := s.box().subs[id]
	if sub == nil || sub.UserID != userID {
		return herald.Errorf(herald.ENOTFOUND, "push subscription not found")
	}
	delete(s.out.subs, id)
	return nil
}

// FindPushSubscriptions returns userID's subscriptions, oldest first.
func (s *Store) FindPushSubscriptions(ctx context.Context, userID string) ([]*herald.PushSubscription, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := []*herald.PushSubscription{}
	for _, sub := range s.subsOf(userID) {
		c := *sub
		out = append(out, &c)
	}
	return out, nil
}
