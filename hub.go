package herald

import (
	"context"
	"time"
)

// Conn is a live client connection as the Hub sees it.
type Conn interface {
	// UserID is the authenticated user behind the connection.
	UserID() string
	// Send queues m for writing without blocking. It returns false when the
	// connection's queue is full or it is closed; the connection then closes
	// itself as too slow. m is shared by every recipient and must not be modified.
	Send(m *Message) bool
}

// BatchConn is a Conn that also takes several messages at once, in order,
// so that it can write them together (BatchDeliverer). It returns false as
// Send does, once one of them is refused.
type BatchConn interface {
	Conn
	SendBatch(ms []*Message) bool
}

// Hub is a node's one index of live connections, by user and by channel, so
// a send to one user or one channel costs time in proportion to its
// recipients; the transports find their own connections through it too.
type Hub interface {
	Deliverer
	// Register adds c. It fails with EUNAVAILABLE when the node or the user is
	// at its connection limit.
	Register(c Conn) error
	// Unregister removes c from every index. It is safe to call twice.
	Unregister(c Conn)
	// Subscribe adds c to channel; it fails with EINVALID when c is at its
	// subscription limit. Subscribing twice is harmless.
	Subscribe(c Conn, channel string) error
	// Unsubscribe removes c from channel and reports whether it was subscribed.
	Unsubscribe(c Conn, channel string) bool
	// Each calls f for every live connection, holding no lock while f runs,
	// so that f may call back into the hub; connections that come or go
	// meanwhile may or may not be seen.
	Each(f func(Conn))
	// OfUser returns user's live connections on this node.
	OfUser(user string) []Conn
	// Stats returns the design document's getStats figures for this node.
	Stats() Stats
}

// Admission decides, before a connection takes any lock or place on the
// node, whether its user may open one more: a cluster's per-user cap across
// nodes, typically, at the cost of a network round trip. Transports call
// Admit first, and Release — asynchronously, never on a hot path — once for
// every Admit that succeeded, when the connection ends or is refused later.
type Admission interface {
	Admit(ctx context.Context, userID string) error
	Release(userID string)
}

// Stats is a snapshot of a node's connections, as the design document's getStats.
type Stats struct {
	TotalConnections int            `json:"totalConnections"`
	TotalUsers       int            `json:"totalUsers"`
	ChannelCounts    map[string]int `json:"channelCounts"`
	Timestamp        time.Time      `json:"timestamp"`
	// Transports splits TotalConnections by what carries them
	// ("websocket", "sse"), when the node knows it; nil otherwise.
	Transports map[string]int `json:"transports,omitempty"`
}

// NodeStats is one node's row in a cluster's figures: its id and the Stats
// of its last heartbeat.
type NodeStats struct {
	Node string `json:"node"`
	Stats
}
