// Package hub is Herald's connection registry: it indexes the live connections
// of one node by user and by channel, so that a send to a user or a channel
// costs time in proportion to its recipients rather than to every client, and it
// hands each message to its recipients without ever waiting on one of them.
package hub

import (
	"sync"
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
	// called with the hub's lock held and must not block or call the hub.
	Interest herald.Interest
}

// Default limits, applied where Config leaves a field zero.
const (
	DefaultMaxConnections   = 10000
	DefaultMaxPerUser       = 32
	DefaultMaxSubscriptions = 64
)

// set is the connections under one user or channel; names is the channels one
// connection joined.
type (
	set   map[herald.Conn]struct{}
	names map[string]struct{}
)

// Hub implements herald.Hub. Its methods are safe for concurrent use.
type Hub struct {
	cfg Config

	mu       sync.RWMutex
	conns    map[herald.Conn]names // connection → channels it joined
	users    map[string]set
	channels map[string]set
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
	return &Hub{
		cfg:      cfg,
		conns:    make(map[herald.Conn]names),
		users:    make(map[string]set),
		channels: make(map[string]set),
	}
}

// Register adds c to the hub, refusing it with EUNAVAILABLE when the node or
// the user is at the connection limit.
func (h *Hub) Register(c herald.Conn) error {
	user := c.UserID()
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; ok {
		return nil
	}
	if len(h.conns) >= h.cfg.MaxConnections {
		return herald.Errorf(herald.EUNAVAILABLE, "Server connection limit reached")
	}
	if len(h.users[user]) >= h.cfg.MaxPerUser {
		return herald.Errorf(herald.EUNAVAILABLE, "Per-user connection limit reached")
	}
	h.conns[c] = nil
	h.add(h.users, herald.ToUser, user, c)
	return nil
}

// Unregister removes c from every index. Calling it twice is harmless.
func (h *Hub) Unregister(c herald.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	chans, ok := h.conns[c]
	if !ok {
		return
	}
	for ch := range chans {
		h.remove(h.channels, herald.ToChannel, ch, c)
	}
	h.remove(h.users, herald.ToUser, c.UserID(), c)
	delete(h.conns, c)
}

// Subscribe adds c to channel. A connection the hub does not know is refused.
func (h *Hub) Subscribe(c herald.Conn, channel string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	chans, ok := h.conns[c]
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
		h.conns[c] = chans
	}
	chans[channel] = struct{}{}
	h.add(h.channels, herald.ToChannel, channel, c)
	return nil
}

// Unsubscribe removes c from channel and reports whether it had joined it.
func (h *Hub) Unsubscribe(c herald.Conn, channel string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	chans := h.conns[c]
	if _, ok := chans[channel]; !ok {
		return false
	}
	delete(chans, channel)
	h.remove(h.channels, herald.ToChannel, channel, c)
	return true
}

// Deliver hands m to the local connections of its audience and returns how many
// accepted it. Each recipient only queues the shared payload, so a slow client
// never delays the others or the caller.
func (h *Hub) Deliver(m *herald.Message) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	switch m.To.Kind {
	case herald.ToUser:
		n = sendAll(h.users[m.To.Name], m)
	case herald.ToChannel:
		n = sendAll(h.channels[m.To.Name], m)
	case herald.ToAll:
		for c := range h.conns {
			if m.To.Except != "" && c.UserID() == m.To.Except {
				continue
			}
			if c.Send(m) {
				n++
			}
		}
	}
	return n
}

func sendAll[M ~map[herald.Conn]V, V any](conns M, m *herald.Message) int {
	n := 0
	for c := range conns {
		if c.Send(m) {
			n++
		}
	}
	return n
}

// Counts returns the number of live connections and of distinct users. It is
// cheap enough for metrics scrapes, unlike Stats.
func (h *Hub) Counts() (conns, users int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns), len(h.users)
}

// Each calls f for every live connection, under the hub's read lock: f must
// not call back into the hub.
func (h *Hub) Each(f func(herald.Conn)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.conns {
		f(c)
	}
}

// UserConns returns how many connections user has on this node.
func (h *Hub) UserConns(user string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[user])
}

// Stats returns the design document's getStats figures for this node.
func (h *Hub) Stats() herald.Stats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	counts := make(map[string]int, len(h.channels))
	for ch, conns := range h.channels {
		counts[ch] = len(conns)
	}
	return herald.Stats{
		TotalConnections: len(h.conns),
		TotalUsers:       len(h.users),
		ChannelCounts:    counts,
		Timestamp:        h.cfg.Now().UTC(),
	}
}

func (h *Hub) add(index map[string]set, kind herald.AudienceKind, key string, c herald.Conn) {
	s := index[key]
	if s == nil {
		s = make(set, 1)
		index[key] = s
		if h.cfg.Interest != nil {
			h.cfg.Interest.SetInterest(herald.Audience{Kind: kind, Name: key}, true)
		}
	}
	s[c] = struct{}{}
}

func (h *Hub) remove(index map[string]set, kind herald.AudienceKind, key string, c herald.Conn) {
	s, ok := index[key]
	if !ok {
		return
	}
	delete(s, c)
	if len(s) == 0 {
		delete(index, key)
		if h.cfg.Interest != nil {
			h.cfg.Interest.SetInterest(herald.Audience{Kind: kind, Name: key}, false)
		}
	}
}
