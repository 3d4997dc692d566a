package inbox

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// Create validates ns, stores them in one Store call and then, per user,
// publishes each notification that is new, in seq order, followed by the
// user's unread count with its version. A notification whose idempotency key
// was seen before comes back as first stored, Replayed, and is not published
// again. The caller's notifications are not modified; the results are in the
// same order. An empty batch creates nothing and is not an error.
//
// A user's messages leave this node in commit order (see lines), whatever the
// order in which concurrent calls return. Publish failures are logged and do
// not fail the call: the notifications are committed and clients recover them
// by resuming.
func (s *Service) Create(ctx context.Context, ns []*herald.Notification) ([]herald.Created, error) {
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
	opts := herald.CreateOptions{Committed: func(res []herald.Created) {
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
	if s.pub == nil {
		return res, nil
	}
	if !committed { // a store that does not order its commits: publish in return order
		opts.Committed(res)
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	for _, p := range pubs {
		s.lines.flush(pctx, p, func(m *herald.Message) { s.send(pctx, m) })
	}
	return res, nil
}

// publications returns, per user in order of first appearance, the messages a
// create's results call for: each new notification, then the user's count
// as the transaction left it. A user with nothing new gets nothing.
func (s *Service) publications(res []herald.Created) []*publication {
	var out []*publication
	byUser := make(map[string]*publication)
	counts := make(map[string]herald.Unread)
	now := s.now()
	for _, c := range res {
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
		if m := s.newMessage(n, now); m != nil {
			p.msgs = append(p.msgs, m)
		}
		if c.Unread.Newer(counts[n.UserID]) {
			counts[n.UserID] = c.Unread
		}
	}
	for _, p := range out {
		p.msgs = append(p.msgs, countMessageFor(p.user, counts[p.user]))
	}
	return out
}

// newMessage returns the notification:new message of n, or nil when n
// cannot be encoded.
func (s *Service) newMessage(n *herald.Notification, now time.Time) *herald.Message {
	payload, err := newNotificationMessage(n, now)
	if err != nil {
		// Only a Data the store returned corrupt can fail to encode.
		s.log.Error("inbox: cannot encode notification", "user", n.UserID, "id", n.ID, "err", err)
		return nil
	}
	return &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: n.UserID}, Payload: payload, Seq: n.Seq}
}

// batchError prefixes err with the position of the failing notification when
// the request holds more than one.
func batchError(size, i int, err error) error {
	if size == 1 {
		return err
	}
	return herald.Errorf(herald.CodeOf(err), "notifications[%d]: %s", i, herald.ErrorMessage(err))
}
