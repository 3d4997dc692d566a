package memory

import (
	"context"
	"slices"

	"github.com/heraldhq/herald"
)

var _ herald.TopicStore = (*Store)(nil)

var errNoSend = herald.Errorf(herald.ENOTFOUND, "topic notification not found")

// topicState is the Store's topics, guarded by Store.mu.
type topicState struct {
	members map[string]map[string]bool // topic -> user -> member
	sends   map[string]*topicSend      // by id
	keys    map[[2]string]string       // (topic, key) -> send id
	order   []string                   // send ids, oldest first
}

// topicSend is a stored send with its fan-out cursor.
type topicSend struct {
	herald.TopicSend
	after string
}

func (s *Store) topics() *topicState {
	if s.tp == nil {
		s.tp = &topicState{members: map[string]map[string]bool{}, sends: map[string]*topicSend{}, keys: map[[2]string]string{}}
	}
	return s.tp
}

// AddTopicMembers adds userIDs to topic; see herald.TopicStore.
func (s *Store) AddTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	tp := s.topics()
	m := tp.members[topic]
	if m == nil {
		m = map[string]bool{}
		tp.members[topic] = m
	}
	added := 0
	for _, u := range userIDs {
		if !m[u] {
			m[u] = true
			added++
		}
	}
	return added, nil
}

// RemoveTopicMembers removes userIDs from topic; see herald.TopicStore.
func (s *Store) RemoveTopicMembers(ctx context.Context, topic string, userIDs []string) (int, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	m := s.topics().members[topic]
	removed := 0
	for _, u := range userIDs {
		if m[u] {
			delete(m, u)
			removed++
		}
	}
	return removed, nil
}

// FindTopicMembers returns a page of topic's members; see herald.TopicStore.
func (s *Store) FindTopicMembers(ctx context.Context, topic, after string, limit int) ([]string, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.membersAfter(topic, after, limit), nil
}

// membersAfter returns up to limit members of topic after after, in order.
// s.mu must be held.
func (s *Store) membersAfter(topic, after string, limit int) []string {
	out := []string{}
	for u := range s.topics().members[topic] {
		if u > after {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// CreateTopicSend stores t as pending, or finds the send of its key; see
// herald.TopicStore.
func (s *Store) CreateTopicSend(ctx context.Context, t *herald.TopicSend) (bool, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	tp := s.topics()
	key := t.Notification.IdempotencyKey
	if id, ok := tp.keys[[2]string{t.Topic, key}]; ok && key != "" {
		*t = tp.sends[id].TopicSend
		return true, nil
	}
	now := utc(s.now())
	t.ID, t.Members, t.Delivered = herald.NewID(), len(tp.members[t.Topic]), 0
	t.Status, t.CreatedAt, t.UpdatedAt = herald.TopicSendPending, now, now
	if t.Members == 0 {
		t.Status = herald.TopicSendDone
	}
	tp.sends[t.ID] = &topicSend{TopicSend: *t}
	tp.order = append(tp.order, t.ID)
	if key != "" {
		tp.keys[[2]string{t.Topic, key}] = t.ID
	}
	return false, nil
}

// FindTopicSend returns the send id of topic; see herald.TopicStore.
func (s *Store) FindTopicSend(ctx context.Context, topic, id string) (*herald.TopicSend, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if id, err := herald.ParseID(id); err == nil {
		if t := s.topics().sends[id]; t != nil && t.Topic == topic {
			c := t.TopicSend
			return &c, nil
		}
	}
	return nil, errNoSend
}

// PendingTopicSends returns the ids of up to limit pending sends, oldest
// first.
func (s *Store) PendingTopicSends(ctx context.Context, limit int) ([]string, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tp := s.topics()
	var out []string
	for _, id := range tp.order {
		if tp.sends[id].Status == herald.TopicSendPending && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

// FanOutTopicSend creates the send's next chunk of copies under the store's
// lock, like one create; see herald.TopicStore.
func (s *Store) FanOutTopicSend(ctx context.Context, id string, limit int, opts herald.CreateOptions) ([]herald.Created, bool, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, false, err
	}
	id, perr := herald.ParseID(id)
	t := s.topics().sends[id]
	if perr != nil || t == nil || t.Status != herald.TopicSendPending || limit <= 0 {
		unlock()
		return nil, true, nil
	}
	users := s.membersAfter(t.Topic, t.after, limit)
	var ns []*herald.NewNotification
	for _, u := range users {
		n := t.Notification
		n.UserID, n.IdempotencyKey = u, ""
		ns = append(ns, &n)
	}
	var res []herald.Created
	if len(ns) > 0 {
		if res, err = s.createLocked(ns, opts); err != nil {
			unlock()
			return nil, false, err
		}
		t.after = users[len(users)-1]
	}
	t.Delivered += len(users)
	t.UpdatedAt = utc(s.now())
	if len(users) < limit {
		t.Status = herald.TopicSendDone
	}
	done := t.Status == herald.TopicSendDone
	unlock()
	return res, done, nil
}
