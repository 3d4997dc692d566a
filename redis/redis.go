// Package redis lets several Herald nodes act as one service through Redis:
// a Broker that carries messages between nodes over pub/sub, a Cluster that
// keeps the facts every node needs (which nodes live, their connection counts,
// where a user is connected, the per-user connection cap), and a Consumer that
// takes domain events from a Redis Stream.
//
// It speaks to Redis with github.com/redis/go-redis/v9 and targets a single
// Redis server (or a primary with replicas behind one address); its scripts
// touch keys they do not declare, which Redis Cluster would refuse.
//
// Every key and channel name starts with a prefix (default "herald:") so that
// several Herald deployments, or tests, can share one Redis.
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/heraldhq/herald"
)

// DefaultURL is the Redis a zero Config connects to.
const DefaultURL = "redis://127.0.0.1:6379/0"

// DefaultPrefix starts every key and channel name when Config leaves it empty.
const DefaultPrefix = "herald:"

// Client timeouts: a node whose Redis stops answering must notice within
// about a second, so that it degrades to local delivery instead of stalling
// API requests.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
)

// NewClient returns a go-redis client for rawURL (redis:// or rediss://,
// with an optional user, password and database number). It does not connect
// until first used. Commands are not retried: a PUBLISH retried after a reply
// was lost would deliver twice, and callers here handle a failure better than
// a blind retry.
func NewClient(rawURL string) (*goredis.Client, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		// go-redis's message may quote the URL, password included.
		return nil, herald.Errorf(herald.EINVALID, "REDIS_URL is not a valid redis:// URL")
	}
	opt.DialTimeout = dialTimeout
	opt.ReadTimeout = ioTimeout
	opt.WriteTimeout = ioTimeout
	opt.PoolTimeout = ioTimeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1 // one dial per call: an unreachable Redis fails fast
	opt.ContextTimeoutEnabled = true
	// Maintenance notifications are a managed-Redis handshake this package
	// does not use; off, the client starts no background goroutines for them.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return goredis.NewClient(opt), nil
}

// ValidURL checks rawURL as NewClient would, without making a client.
func ValidURL(rawURL string) error {
	if _, err := goredis.ParseURL(rawURL); err != nil {
		return herald.Errorf(herald.EINVALID, "REDIS_URL is not a valid redis:// URL")
	}
	return nil
}

// SetClientLogger sends go-redis's own log lines, which it prints to
// standard error by default, to log at debug level: while Redis is down they
// come once per failed dial, and the parts here already log each outage once.
func SetClientLogger(log *slog.Logger) {
	goredis.SetLogger(clientLogger{log})
}

type clientLogger struct{ log *slog.Logger }

func (l clientLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// Host returns the host:port of rawURL without credentials, for logs.
func Host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "?"
	}
	return u.Host
}

// DefaultNodeID names a node that was given no id: its hostname and process
// id, unique among live processes and readable in logs.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// ValidNodeID reports whether id can name a node: 1 to 128 bytes of
// letters, digits and "-_.:", so it is safe in keys, logs and metric labels.
func ValidNodeID(id string) error {
	if id == "" || len(id) > 128 {
		return herald.Errorf(herald.EINVALID, "node id must be 1 to 128 bytes")
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return herald.Errorf(herald.EINVALID, "node id %q may hold only letters, digits and -_.:", id)
		}
	}
	return nil
}

// keys builds the names of keys and channels under one prefix.
type keys struct{ prefix string }

func newKeys(prefix string) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return keys{prefix: prefix}
}

// Pub/sub channels. User and channel names are used as they are: the one-letter
// kind before them keeps "u:x" and "c:x" apart whatever x holds.
func (k keys) user(name string) string    { return k.prefix + "u:" + name }
func (k keys) channel(name string) string { return k.prefix + "c:" + name }
func (k keys) all() string                { return k.prefix + "all" }
func (k keys) probe(node string) string   { return k.prefix + "probe:" + node }

// topic is the pub/sub channel of audience a, or "" for an unknown kind.
func (k keys) topic(a herald.Audience) string {
	switch a.Kind {
	case herald.ToUser:
		return k.user(a.Name)
	case herald.ToChannel:
		return k.channel(a.Name)
	case herald.ToAll:
		return k.all()
	}
	return ""
}

// Keys of the cluster facts.
func (k keys) node(id string) string       { return k.prefix + "node:" + id }       // string: the node's stats, with a TTL
func (k keys) nodes() string               { return k.prefix + "nodes" }            // set: ids of nodes that may live
func (k keys) nodeUsers(id string) string  { return k.prefix + "nodeusers:" + id }  // set: users with connections on node id
func (k keys) presence(user string) string { return k.prefix + "presence:" + user } // hash: node id → connections
func (k keys) online() string              { return k.prefix + "online" }           // set: users connected anywhere

func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
