package inbox

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
)

// Create validates ns (the one place a new notification is validated, for
// every transport), stores them in one Store call, with the deliveries the
// Planner plans, and then, per user, publishes each notification that is new,
// in seq order, followed by the user's unread count with its version. A
// notification planned silent (in_app off) is stored read and never reaches a
// socket, and leaves the count as it was. A notification whose idempotency key
// was seen before comes back as first stored, Replayed, and is not published
// again. The caller's notifications are not modified; the results are in the
// same order. An empty batch creates nothing and is not an error.
//
// A user's messages leave this node in commit order (see lines), whatever the
// order in which concurrent calls return. Publish failures are logged and do
// not fail the call: the notifications are committed and clients recover them
// by resuming.
func (s *Service) Create(ctx context.Context, ns []*herald.NewNotification) ([]herald.Created, error) {
	if len(ns) == 0 {
		return []herald.Created{}, nil
	}
	if len(ns) > MaxBatch {
		return nil, herald.Errorf(herald.ETOOLARGE, "at most %d notifications per request", MaxBatch)
	}
	for i, n := range ns {
		if n == nil {
			return nil, batchError(len(ns), i, herald.Errorf(herald.EINVALID, "notification is null"))
		}
		if err := n.Validate(); err != nil {
			return nil, batchError(len(ns), i, err)
		}
	}
	var pubs []*publication
	committed := false
	opts := herald.CreateOptions{Planner: s.planner, Committed: func(res []herald.Created) {
		committed = true
		pubs = s.publications(res)
		for _, p := range pubs {
			s.lines.add(p)
		}
	}}
	if s.pub == nil {
		opts.Committed = nil
	}
	res, err := s.store.CreateNotifications(ctx, ns, opts)
	if err != nil {
		return nil, err
	}
	if len(res) != len(ns) {
		return nil, herald.Errorf(herald.EINTERNAL, "store reported %d results for %d notifications", len(res), len(ns))
	}
	if s.pub != nil {
		if !committed { // a store that does not order its commits: publish in return order
			opts.Committed(res)
		}
		pctx, cancel := s.afterCommit(ctx)
		for _, p := range pubs {
			s.lines.flush(pctx, p, func(ms []*herald.Message) { s.sendAll(pctx, ms) })
		}
		cancel()
	}
	if s.afterCreate != nil {
		s.afterCreate(res)
	}
	return res, nil
}

// publications returns, per user in order of first appearance, the messages a
// create's results call for: each new notification, then the user's count
// as the transaction left it. A silent notification gets only a seq marker (a
// message with its seq and no payload, which connections record and never
// send), so that connections know the seq was used, and no count follows
// unless a notification that shows was created too. A user with nothing new
// gets nothing.
//
// It sets each new notification's Encoded in res, from its message.
func (s *Service) publications(res []herald.Created) []*publication {
	var out []*publication
	byUser := make(map[string]*publication)
	counts := make(map[string]herald.Unread)
	now := s.now()
	for i := range res {
		c := &res[i]
		if c.Replayed {
			continue
		}
		n := c.Notification
		p := byUser[n.UserID]
		if p == nil {
			p = &publication{user: n.UserID, done: make(chan struct{})}
			byUser[n.UserID] = p
			out = append(out, p)
		}
		if n.Silent {
			p.msgs = append(p.msgs, &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: n.UserID}, Seq: n.Seq})
			continue
		}
		if m, encoded := s.newMessage(n, now); m != nil {
			p.msgs = append(p.msgs, m)
			c.Encoded = encoded[:len(encoded):len(encoded)] // no spare room: an append copies
		}
		if c.Unread.Newer(counts[n.UserID]) {
			counts[n.UserID] = c.Unread
		}
	}
	for _, p := range out {
		if u, ok := counts[p.user]; ok {
			p.msgs = append(p.msgs, countMessageFor(p.user, u))
		}
	}
	return out
}

// newMessage returns the notification:new message of n and n's own JSON in
// it, or nil when n cannot be encoded.
func (s *Service) newMessage(n *herald.Notification, now time.Time) (*herald.Message, json.RawMessage) {
	payload, encoded, err := newNotificationMessage(n, now)
	if err != nil {
		// Only a Data the store returned corrupt can fail to encode.
		s.log.Error("inbox: cannot encode notification", "user", n.UserID, "id", n.ID, "err", err)
		return nil, nil
	}
	return &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: n.UserID}, Payload: payload, Seq: n.Seq}, encoded
}

// batchError prefixes err with the position of the failing notification when
// the request holds more than one.
func batchError(size, i int, err error) error {
	if size == 1 {
		return err
	}
	return herald.Errorf(herald.CodeOf(err), "notifications[%d]: %s", i, herald.ErrorMessage(err))
}
