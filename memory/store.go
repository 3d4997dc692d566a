// Package memory holds Herald's in-process implementations: a Store that keeps
// notifications in maps, for tests and for running without a database
// (--store=memory), and a Broker for a single node. Nothing survives a restart.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Default and maximum page sizes of FindNotifications, the same as the
// database stores'.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Config configures a Store. The zero value works.
type Config struct {
	// Now is the clock that stamps CreatedAt and, when MarkRead is given a
	// zero time, ReadAt. Default: time.Now.
	Now func() time.Time
}

// Store is a herald.Store kept in memory behind one mutex. It behaves like the
// database stores, including per-user sequence numbers that are never reused
// and idempotency keys, so tests written against it hold for them too.
type Store struct {
	now func() time.Time

	mu     sync.Mutex
	byID   map[string]*herald.Notification
	users  map[string]*inbox
	closed bool
	out    *outbox     // deliveries and preferences (delivery.go)
	tp     *topicState // topics (topics.go)
}

// inbox is one user's notifications in ascending Seq order, silent ones
// included.
type inbox struct {
	lastSeq int64 // last Seq handed out, kept after deletes so none is reused
	list    []*herald.Notification
	keys    map[string]*herald.Notification // by IdempotencyKey
	unread  int
	version int64 // grows with every change of unread
}

// state returns the inbox's Unread.
func (ib *inbox) state() herald.Unread {
	return herald.Unread{Count: ib.unread, Version: ib.version, LastSeq: ib.lastSeq}
}

// NewStore returns an empty Store.
func NewStore(c Config) *Store {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:   now,
		byID:  make(map[string]*herald.Notification),
		users: make(map[string]*inbox),
	}
}

var _ herald.Store = (*Store)(nil)

// CreateNotifications stores ns all together or not at all. See herald.Store.
func (s *Store) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.createLocked(ns, opts)
}

// createLocked is CreateNotifications with s.mu held: its commit, and the
// call of opts.Committed, happen under the lock, in commit order.
func (s *Store) createLocked(ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	res := make([]herald.Created, len(ns))
	planned := make([][]*herald.Delivery, len(ns))
	dupOf := make(map[int]int)          // index of an in-batch duplicate -> its first occurrence
	firstKey := make(map[[2]string]int) // (user, key) -> first index in this batch
	newIDs := make(map[string]bool)
	newSeqs := make(map[string]int64) // user -> notifications added in this batch

	// First pass: decide everything without touching the maps, so an error
	// leaves the store as it was.
	for i, in := range ns {
		if in == nil {
			return nil, herald.Errorf(herald.EINVALID, "notification %d is missing", i)
		}
		ib := s.users[in.UserID]
		if in.IdempotencyKey != "" {
			if ib != nil && ib.keys[in.IdempotencyKey] != nil {
				n := clone(ib.keys[in.IdempotencyKey])
				res[i] = herald.Created{Notification: &n, Replayed: true}
				continue
			}
			k := [2]string{in.UserID, in.IdempotencyKey}
			if j, ok := firstKey[k]; ok {
				dupOf[i] = j
				continue
			}
			firstKey[k] = i
		}
		id, err := notificationID(in.ID)
		if err != nil {
			return nil, err
		}
		if s.byID[id] != nil || newIDs[id] {
			return nil, herald.Errorf(herald.ECONFLICT, "notification %s already exists", id)
		}
		newIDs[id] = true
		var last int64
		if ib != nil {
			last = ib.lastSeq
		}
		newSeqs[in.UserID]++
		n := &herald.Notification{
			ID: id, Seq: last + newSeqs[in.UserID], UserID: in.UserID, Type: in.Type, Title: in.Title,
			Message: in.Message, Link: in.Link, Data: append([]byte(nil), in.Data...), IdempotencyKey: in.IdempotencyKey,
			CreatedAt: now, Timestamp: now,
		}
		if len(in.Data) == 0 {
			n.Data = nil
		}
		if opts.Planner != nil {
			p := opts.Planner.Plan(in, s.prefsOf(in.UserID), s.planTargets(in.UserID, opts.Planner.UsesPush()), now)
			if p.Silent {
				readAt := now
				n.Read, n.ReadAt, n.Silent = true, &readAt, true
			}
			planned[i] = p.Deliveries
		}
		res[i] = herald.Created{Notification: n}
	}

	// Second pass: commit. Notifications of one user arrive in Seq order.
	changed := make(map[string]bool)
	for i := range res {
		if res[i].Notification == nil || res[i].Replayed {
			continue
		}
		n := clone(res[i].Notification)
		ib := s.users[n.UserID]
		if ib == nil {
			ib = &inbox{keys: make(map[string]*herald.Notification)}
			s.users[n.UserID] = ib
		}
		ib.lastSeq = n.Seq
		ib.list = append(ib.list, &n)
		if !n.Read {
			ib.unread++
			if !changed[n.UserID] {
				changed[n.UserID] = true
				ib.version++
			}
		}
		if n.IdempotencyKey != "" {
			ib.keys[n.IdempotencyKey] = &n
		}
		s.byID[n.ID] = &n
	}
	for i, j := range dupOf {
		n := clone(res[j].Notification)
		res[i] = herald.Created{Notification: &n, Replayed: true}
	}
	deliveries := s.writeDeliveries(res, planned, now)
	for i := range res {
		if !res[i].Replayed {
			res[i].Deliveries = deliveries[i]
			res[i].Unread = s.users[res[i].Notification.UserID].state()
		}
	}
	if opts.Committed != nil {
		opts.Committed(res) // under s.mu: in commit order
	}
	return res, nil
}

// MarkRead marks one of userID's notifications read at at (now when zero).
func (s *Store) MarkRead(ctx context.Context, userID, id string, at time.Time) (herald.Unread, bool, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return herald.Unread{}, false, err
	}
	defer unlock()
	n := s.owned(userID, id)
	if n == nil {
		return herald.Unread{}, false, errNotFound
	}
	if n.Read {
		return herald.Unread{}, false, nil
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	n.Read, n.ReadAt = true, &at
	ib := s.users[userID]
	ib.unread--
	ib.version++
	return ib.state(), true, nil
}

// MarkAllRead marks every unread notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, herald.Unread, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return 0, herald.Unread{}, err
	}
	defer unlock()
	ib := s.users[userID]
	if ib == nil || ib.unread == 0 {
		return 0, herald.Unread{}, nil
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	changed := 0
	for _, n := range ib.list {
		if !n.Read {
			readAt := at
			n.Read, n.ReadAt = true, &readAt
			changed++
		}
	}
	ib.unread = 0
	ib.version++
	return changed, ib.state(), nil
}

// DeleteNotification removes one of userID's notifications. Its Seq stays
// used and its idempotency key is forgotten.
func (s *Store) DeleteNotification(ctx context.Context, userID, id string) (herald.Unread, bool, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return herald.Unread{}, false, err
	}
	defer unlock()
	n := s.owned(userID, id)
	if n == nil {
		return herald.Unread{}, false, errNotFound
	}
	ib := s.users[userID]
	i := sort.Search(len(ib.list), func(i int) bool { return ib.list[i].Seq >= n.Seq })
	ib.list = append(ib.list[:i], ib.list[i+1:]...)
	if n.IdempotencyKey != "" {
		delete(ib.keys, n.IdempotencyKey)
	}
	delete(s.byID, n.ID)
	if n.Read {
		return herald.Unread{}, false, nil
	}
	ib.unread--
	ib.version++
	return ib.state(), true, nil
}

// FindNotifications returns a page selected by f, as copies.
func (s *Store) FindNotifications(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
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

	page := []*herald.Notification{}
	ib := s.users[f.UserID]
	if ib == nil {
		return page, nil
	}
	keep := func(n *herald.Notification) bool { return (!f.UnreadOnly || !n.Read) && (f.WithSilent || !n.Silent) }
	if f.Since > 0 || f.Ascending {
		i := sort.Search(len(ib.list), func(i int) bool { return ib.list[i].Seq > f.Since })
		for ; i < len(ib.list) && len(page) < limit; i++ {
			if keep(ib.list[i]) {
				n := clone(ib.list[i])
				page = append(page, &n)
			}
		}
		return page, nil
	}
	end := len(ib.list)
	if f.Before > 0 {
		end = sort.Search(len(ib.list), func(i int) bool { return ib.list[i].Seq >= f.Before })
	}
	for i := end - 1; i >= 0 && len(page) < limit; i-- {
		if keep(ib.list[i]) {
			n := clone(ib.list[i])
			page = append(page, &n)
		}
	}
	return page, nil
}

// UnreadCount returns how many of userID's notifications are unread, with
// the version and the last seq.
func (s *Store) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	unlock, err := s.enter(ctx)
	if err != nil {
		return herald.Unread{}, err
	}
	defer unlock()
	if ib := s.users[userID]; ib != nil {
		return ib.state(), nil
	}
	return herald.Unread{}, nil
}

// enter begins a call: it fails for a cancelled context or a closed store,
// and otherwise holds the store's lock until unlock.
func (s *Store) enter(ctx context.Context) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	return s.mu.Unlock, nil
}

// Close makes later calls fail with EUNAVAILABLE and drops the contents.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.byID, s.users = nil, nil
	return nil
}

var (
	errNotFound = herald.Errorf(herald.ENOTFOUND, "notification not found")
	errClosed   = herald.Errorf(herald.EUNAVAILABLE, "notification store is closed")
)

// owned returns userID's notification id, or nil when there is none.
func (s *Store) owned(userID, id string) *herald.Notification {
	id, err := herald.ParseID(id)
	if err != nil {
		return nil
	}
	n := s.byID[id]
	if n == nil || n.UserID != userID {
		return nil
	}
	return n
}

// clone returns a copy of n that shares no memory with it.
func clone(n *herald.Notification) herald.Notification {
	c := *n
	if n.Data != nil {
		c.Data = append([]byte(nil), n.Data...)
	}
	if n.ReadAt != nil {
		t := *n.ReadAt
		c.ReadAt = &t
	}
	return c
}

// notificationID returns id in canonical form, or a new id when it is empty.
func notificationID(id string) (string, error) {
	if id == "" {
		return herald.NewID(), nil
	}
	return herald.ParseID(id)
}
