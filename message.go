package herald

import (
	"context"
	"sync"
)

// AudienceKind says how an Audience selects connections.
type AudienceKind uint8

// The audience kinds: the design document's sendToUser, sendToChannel and broadcast.
const (
	ToUser AudienceKind = iota + 1
	ToChannel
	ToAll
)

// Audience names who a message is for. Except, for ToAll, names a user left out.
type Audience struct {
	Kind   AudienceKind
	Name   string // user id or channel name
	Except string
}

// Message is one outbound message: a payload encoded once, as JSON, and shared
// read-only by every recipient, and the audience it goes to.
type Message struct {
	To      Audience
	Payload []byte
	// Seq is the notification's seq when the message is a notification:new,
	// and 0 otherwise. A connection replaying missed notifications uses it to
	// drop live copies of what the replay already sent. A message with a Seq
	// and no Payload is a seq marker: a notification took that seq but is not
	// for the app (its user switched in_app off); connections record the seq
	// and send nothing.
	Seq int64
	// Latest marks a message that supersedes earlier ones of its kind, such
	// as the unread count: a connection still holding an unsent one replaces
	// its payload with this one's instead of queueing both.
	Latest bool
	// Version orders Latest messages (the unread count's Unread.Version): a
	// connection keeps the greatest it was given and drops one that is not
	// greater, queued or not, so counts published through different nodes
	// cannot leave a tab on a stale one. 0 is unversioned.
	Version int64
	// Close, when not zero, is an order rather than a message: every
	// connection of the audience closes with this close code, with Payload as
	// the reason. Logout, revocation and disabled accounts use it, so that a
	// user's sockets close on every node.
	Close int

	// encodings holds Payload in the wire formats recipients asked for.
	encodings encodings
}

// encodings is a message's small cache of other wire formats: a Deliver
// call hands one Message to every recipient, so each format is computed
// once per call, whatever the number of recipients or of concurrent
// publishers.
type encodings struct {
	mu  sync.Mutex
	out []encoding
}

type encoding struct {
	key any
	val any
}

// Encoded returns the message in the wire format key names (a transport's
// own comparable value), computing it with encode on the first request for
// that key only; later requests, from any goroutine, share the result, which
// must not be modified.
func (m *Message) Encoded(key any, encode func(payload []byte) any) any {
	e := &m.encodings
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.out {
		if x.key == key {
			return x.val
		}
	}
	v := encode(m.Payload)
	e.out = append(e.out, encoding{key, v})
	return v
}

// Publisher sends messages to the connections of their audience, wherever in
// the cluster they are. It returns how many local connections accepted it.
type Publisher interface {
	Publish(ctx context.Context, m *Message) (int, error)
}

// BatchPublisher is a Publisher that also takes several messages for one
// audience at once, in order, such as a new notification and the unread
// count that follows it: each connection then gets them together and can
// write them with one system call. It returns how many local connections
// accepted them all. Callers use it when their Publisher has it and publish
// one by one otherwise; the messages reach clients the same either way.
type BatchPublisher interface {
	Publisher
	PublishBatch(ctx context.Context, ms []*Message) (int, error)
}

// Broker carries messages between Herald nodes. The in-memory broker (single
// node) hands each published message straight to the local Deliverer; the Redis
// broker carries it to every node that has interest in its audience.
type Broker interface {
	Publisher
	// Run delivers messages from other nodes to the local Deliverer until ctx ends.
	Run(ctx context.Context) error
}

// Interest is how a node tells its Broker which audiences have local
// connections, so that a cluster broker subscribes only to what this node
// needs. The hub calls it when the first local connection of a user, or the
// first local subscriber of a channel, appears (on=true) and when the last one
// goes (on=false). It must not block: brokers record the change and apply it
// asynchronously.
type Interest interface {
	SetInterest(a Audience, on bool)
}

// Deliverer hands a message to the local connections of its audience and
// returns how many accepted it. It never blocks on a slow connection.
type Deliverer interface {
	Deliver(m *Message) int
}

// BatchDeliverer is a Deliverer that also hands several messages for one
// audience (the first one's) to each local connection at once, in order, for
// BatchPublisher. It returns how many connections accepted them all.
type BatchDeliverer interface {
	Deliverer
	DeliverBatch(ms []*Message) int
}
