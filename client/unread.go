package client

import (
	"encoding/json"
)

// Unread is the user's unread count as the server last said it, with the
// version that orders it (see docs/protocol.md): counts published through
// different servers may arrive out of order, and the greatest version is the
// current one.
type Unread struct {
	Count   int
	Version int64
}

// unreadState is the client's current count. It lives in Client, guarded by
// Client.mu.
type unreadState struct {
	u     Unread
	known bool
}

// Unread returns the user's unread count, as the server last said it on this
// client's connections; known is false until a connection has been greeted.
func (c *Client) Unread() (u Unread, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unread.u, c.unread.known
}

// OnUnreadCount adds a handler called each time the user's unread count
// changes, with the new count. Counts older than the one the client holds are
// ignored, so the handler never sees the count go back to a stale value.
func (c *Client) OnUnreadCount(f func(count int)) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.unread = append(c.h.unread, f)
}

// greetUnread takes the count of a "connected" message: the state at the
// start of a connection, which replaces whatever the client held.
func (c *Client) greetUnread(count *int, version int64) {
	if count == nil {
		return
	}
	c.setUnread(Unread{Count: *count, Version: version}, true)
}

// noteUnread takes the count of a notification:unread_count message, unless
// the client holds a newer one. A message without a version (an older
// server) is taken as it comes.
func (c *Client) noteUnread(data []byte) {
	var m struct {
		Count   *int  `json:"count"`
		Version int64 `json:"version"`
	}
	if json.Unmarshal(data, &m) != nil || m.Count == nil {
		c.log.Warn("herald client: an unread count message without a count")
		return
	}
	c.setUnread(Unread{Count: *m.Count, Version: m.Version}, false)
}

// setUnread records u and tells the handlers when the count changed. force
// takes u whatever its version.
func (c *Client) setUnread(u Unread, force bool) {
	c.mu.Lock()
	cur := c.unread
	if !force && cur.known && u.Version != 0 && u.Version <= cur.u.Version {
		c.mu.Unlock()
		return
	}
	c.unread = unreadState{u: u, known: true}
	c.mu.Unlock()
	if cur.known && cur.u.Count == u.Count {
		return
	}
	c.h.mu.RLock()
	fs := c.h.unread
	c.h.mu.RUnlock()
	c.ev.emit(func() {
		for _, f := range fs {
			f(u.Count)
		}
	})
}
