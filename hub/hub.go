// Package hub is Herald's connection registry: the one index of a node's live
// connections by user and by channel, so that a send to a user or a channel
// costs time in proportion to its recipients rather than to every client, and
// it hands each message to its recipients without ever waiting on one of them.
//
// The index is sharded — users over userShards locks, channels over
// chanShards — and a delivery holds a shard's read lock only to copy its
// recipients, never while it sends: a connect or disconnect then never waits
// for a large fan-out, nor a fan-out for a writer queued behind it.
package hub

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Config holds the hub's limits. The zero value works.
type Config struct {
	// MaxConnections caps live connections on this node (default 10000).
	MaxConnections int
	// MaxPerUser caps one user's live connections, tabs and devices together
	// (default 32).
	MaxPerUser int
	// MaxSubscriptions caps the channels one connection may join (default 64).
	MaxSubscriptions int
	// Now is the clock used for Stats timestamps (default time.Now).
	Now func() time.Time
	// Interest, when set, is told when a user or channel gains its first
	// local connection and loses its last one (see herald.Interest). It is
	// called with one of the hub's shard locks held and must not block or
	// call the hub.
	Interest herald.Interest
}

// Default limits, applied where Config leaves a field zero.
const (
	DefaultMaxConnections   = 10000
	DefaultMaxPerUser       = 32
	DefaultMaxSubscriptions = 64
)

// Shard counts: powers of two, enough that two connects rarely share a lock
// on a 2–16 core node.
const (
	userShards = 64
	chanShards = 64
)

// set is the connections under one channel; names is the channels one
// connection joined; conns is one user's connections, a few at most
// (Config.MaxPerUser), which a slice holds in a fraction of a map's memory —
// the map was 0.2 KiB of every idle connection.
type (
	set   map[herald.Conn]struct{}
	names map[string]struct{}
	conns []herald.Conn
)

// userShard indexes the users hashed to it, and their connections with the
// channels each joined (a connection's user never changes, so its entry
// lives in its user's shard).
type userShard struct {
	mu    sync.RWMutex
	users map[string]conns
	conns map[herald.Conn]names
}

type chanShard struct {
	mu       sync.RWMutex
	channels map[string]set
}

// Hub implements herald.Hub. Its methods are safe for concurrent use.
type Hub struct {
	cfg   Config
	seed  maphash.Seed
	total atomic.Int64 // live connections, reserved before they are indexed
	users [userShards]userShard
	chans [chanShards]chanShard
}

var _ herald.Hub = (*Hub)(nil)

// New returns an empty hub with cfg's limits.
func New(cfg Config) *Hub {
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = DefaultMaxPerUser
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range h.users {
		h.users[i] = userShard{users: make(map[string]conns), conns: make(map[herald.Conn]names)}
	}
	for i := range h.chans {
		h.chans[i] = chanShard{channels: make(map[string]set)}
	}
	return h
}

func (h *Hub) userShard(user string) *userShard {
	return &h.users[maphash.String(h.seed, user)%userShards]
}

func (h *Hub) chanShard(channel string) *chanShard {
	return &h.chans[maphash.String(h.seed, channel)%chanShards]
}

// Register adds c to the hub, refusing it with EUNAVAILABLE when the node or
// the user is at the connection limit.
func (h *Hub) Register(c herald.Conn) error {
	user := c.UserID()
	us := h.userShard(user)
	us.mu.Lock()
	defer us.mu.Unlock()
	if _, ok := us.conns[c]; ok {
		return nil
	}
	if h.total.Add(1) > int64(h.cfg.MaxConnections) {
		h.total.Add(-1)
		return herald.Errorf(herald.EUNAVAILABLE, "Server connection limit reached")
	}
	if len(us.users[user]) >= h.cfg.MaxPerUser {
		h.total.Add(-1)
		return herald.Errorf(herald.EUNAVAILABLE, "Per-user connection limit reached")
	}
	us.conns[c] = nil
	if us.users[user] == nil {
		h.interest(herald.ToUser, user, true)
	}
	us.users[user] = append(us.users[user], c)
	return nil
}

// Unregister removes c from every index. Calling it twice is harmless.
func (h *Hub) Unregister(c herald.Conn) {
	user := c.UserID()
	us := h.userShard(user)
	us.mu.Lock()
	defer us.mu.Unlock()
	chans, ok := us.conns[c]
	if !ok {
		return
	}
	// Its channels first, each under its shard's lock (user, then channel:
	// the one order), then its user.
	for ch := range chans {
		cs := h.chanShard(ch)
		cs.mu.Lock()
		h.remove(cs.channels, ch, c)
		cs.mu.Unlock()
	}
	delete(us.conns, c)
	list := us.users[user]
	if i := slices.Index(list, c); i >= 0 {
		list[i] = list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
	}
	if len(list) > 0 {
		us.users[user] = list
	} else {
		delete(us.users, user)
		h.interest(herald.ToUser, user, false)
	}
	h.total.Add(-1)
}

// Subscribe adds c to channel. A connection the hub does not know is refused.
//
// A connection's own subscriptions change on its reader only, one at a
// time; the user shard's lock orders them against Unregister, and is held
// while the channel shard's is taken (user before channel, always).
func (h *Hub) Subscribe(c herald.Conn, channel string) error {
	us := h.userShard(c.UserID())
	us.mu.Lock()
	defer us.mu.Unlock()
	chans, ok := us.conns[c]
	if !ok {
		return herald.Errorf(herald.ECONFLICT, "Connection is not registered")
	}
	if _, dup := chans[channel]; dup {
		return nil
	}
	if len(chans) >= h.cfg.MaxSubscriptions {
		return herald.Errorf(herald.EINVALID, "Subscription limit of %d channels reached", h.cfg.MaxSubscriptions)
	}
	if chans == nil {
		chans = make(names)
		us.conns[c] = chans
	}
	chans[channel] = struct{}{}
	cs := h.chanShard(channel)
	cs.mu.Lock()
	h.add(cs.channels, channel, c)
	cs.mu.Unlock()
	return nil
}

// Unsubscribe removes c from channel and reports whether it had joined it.
func (h *Hub) Unsubscribe(c herald.Conn, channel string) bool {
	us := h.userShard(c.UserID())
	us.mu.Lock()
	defer us.mu.Unlock()
	chans := us.conns[c]
	if _, ok := chans[channel]; !ok {
		return false
	}
	delete(chans, channel)
	cs := h.chanShard(channel)
	cs.mu.Lock()
	h.remove(cs.channels, channel, c)
	cs.mu.Unlock()
	return true
}

// recipients pools the slices deliveries copy their recipients into.
var recipients = sync.Pool{New: func() any { s := make([]herald.Conn, 0, 64); return &s }}

// Deliver hands m to the local connections of its audience and returns how many
// accepted it. Each recipient only queues the shared payload, so a slow client
// never delays the others or the caller; no lock is held while it sends.
func (h *Hub) Deliver(m *herald.Message) int {
	return h.deliver(m, func(c herald.Conn) bool { return c.Send(m) })
}

// DeliverBatch hands ms, all for the audience of ms[0], to its local
// connections: each gets them at once (herald.BatchConn) or one by one. It
// returns how many accepted them all.
func (h *Hub) DeliverBatch(ms []*herald.Message) int {
	if len(ms) == 0 {
		return 0
	}
	return h.deliver(ms[0], func(c herald.Conn) bool {
		if bc, ok := c.(herald.BatchConn); ok {
			return bc.SendBatch(ms)
		}
		for _, m := range ms {
			if !c.Send(m) {
				return false
			}
		}
		return true
	})
}

// deliver calls send for each local connection of m's audience and returns
// how many times it reported true.
func (h *Hub) deliver(m *herald.Message, send func(herald.Conn) bool) int {
	buf := recipients.Get().(*[]herald.Conn)
	to := (*buf)[:0]
	switch m.To.Kind {
	case herald.ToUser:
		to = h.OfUserAppend(to, m.To.Name)
	case herald.ToChannel:
		cs := h.chanShard(m.To.Name)
		cs.mu.RLock()
		for c := range cs.channels[m.To.Name] {
			to = append(to, c)
		}
		cs.mu.RUnlock()
	case herald.ToAll:
		for i := range h.users {
			to = h.users[i].appendConns(to, m.To.Except)
		}
	}
	n := 0
	for _, c := range to {
		if send(c) {
			n++
		}
	}
	clear(to)
	*buf = to[:0]
	recipients.Put(buf)
	return n
}

// appendConns appends the shard's connections, but those of except.
func (us *userShard) appendConns(to []herald.Conn, except string) []herald.Conn {
	us.mu.RLock()
	defer us.mu.RUnlock()
	for c := range us.conns {
		if except == "" || c.UserID() != except {
			to = append(to, c)
		}
	}
	return to
}

// OfUser returns user's live connections on this node.
func (h *Hub) OfUser(user string) []herald.Conn { return h.OfUserAppend(nil, user) }

// OfUserAppend appends user's live connections to to.
func (h *Hub) OfUserAppend(to []herald.Conn, user string) []herald.Conn {
	us := h.userShard(user)
	us.mu.RLock()
	defer us.mu.RUnlock()
	to = append(to, us.users[user]...)
	return to
}

// Counts returns the number of live connections and of distinct users. It is
// cheap enough for metrics scrapes, unlike Stats.
func (h *Hub) Counts() (conns, users int) {
	for i := range h.users {
		us := &h.users[i]
		us.mu.RLock()
		conns += len(us.conns)
		users += len(us.users)
		us.mu.RUnlock()
	}
	return conns, users
}

// Each calls f for every live connection, one shard's snapshot at a time,
// with no lock held: f may call back into the hub.
func (h *Hub) Each(f func(herald.Conn)) {
	var snap []herald.Conn
	for i := range h.users {
		snap = h.users[i].appendConns(snap[:0], "")
		for _, c := range snap {
			f(c)
		}
	}
}

// UserConns returns how many connections user has on this node.
func (h *Hub) UserConns(user string) int {
	us := h.userShard(user)
	us.mu.RLock()
	defer us.mu.RUnlock()
	return len(us.users[user])
}

// Stats returns the design document's getStats figures for this node.
func (h *Hub) Stats() herald.Stats {
	conns, users := h.Counts()
	counts := make(map[string]int)
	for i := range h.chans {
		cs := &h.chans[i]
		cs.mu.RLock()
		for ch, set := range cs.channels {
			counts[ch] = len(set)
		}
		cs.mu.RUnlock()
	}
	return herald.Stats{
		TotalConnections: conns,
		TotalUsers:       users,
		ChannelCounts:    counts,
		Timestamp:        h.cfg.Now().UTC(),
	}
}

// add puts c in channel's set of index (a channel shard's); remove takes it
// out. The first connection in and the last out are told to Interest.
func (h *Hub) add(index map[string]set, channel string, c herald.Conn) {
	s := index[channel]
	if s == nil {
		s = make(set, 1)
		index[channel] = s
		h.interest(herald.ToChannel, channel, true)
	}
	s[c] = struct{}{}
}

func (h *Hub) remove(index map[string]set, channel string, c herald.Conn) {
	s, ok := index[channel]
	if !ok {
		return
	}
	delete(s, c)
	if len(s) == 0 {
		delete(index, channel)
		h.interest(herald.ToChannel, channel, false)
	}
}

// interest tells Config.Interest, if any, that the first connection of an
// audience arrived (on) or its last one left.
func (h *Hub) interest(kind herald.AudienceKind, name string, on bool) {
	if h.cfg.Interest != nil {
		h.cfg.Interest.SetInterest(herald.Audience{Kind: kind, Name: name}, on)
	}
}
