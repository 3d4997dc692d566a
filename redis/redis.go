// Package redis lets several Herald nodes act as one service through Redis:
// a Broker that carries messages between nodes over pub/sub, a Cluster that
// keeps the facts every node needs (which nodes live, their connection counts,
// where a user is connected, the per-user connection cap), and a Consumer that
// takes domain events from a Redis Stream.
//
// It speaks to Redis with github.com/redis/go-redis/v9, in three topologies
// (see Client): one server, a primary watched by Redis Sentinel, or Redis
// Cluster. On Redis Cluster the broker uses sharded pub/sub (SSUBSCRIBE and
// SPUBLISH, Redis 7 or later) with one subscription per shard, so that
// pub/sub traffic spreads over the shards; the cluster facts share one hash
// tag, so that every script's keys (all declared in KEYS) live in one slot.
//
// Every key and channel name starts with a prefix (default "herald:") so that
// several Herald deployments, or tests, can share one Redis.
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// DefaultURL is the Redis a zero Config connects to.
const DefaultURL = "redis://127.0.0.1:6379/0"

// DefaultPrefix starts every key and channel name when Config leaves it empty.
const DefaultPrefix = "herald:"

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
type keys struct {
	prefix string // of channels
	// facts starts the keys of the cluster facts: the prefix, or on Redis
	// Cluster the prefix as a hash tag ("herald:" becomes "{herald}:"), so
	// that every fact lives in one slot and a script may touch several.
	facts string
}

func newKeys(prefix string, t Topology) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	k := keys{prefix: prefix, facts: prefix}
	if t == TopologyCluster {
		tag := strings.TrimRight(prefix, ":")
		if tag == "" {
			tag = "herald"
		}
		k.facts = "{" + tag + "}" + prefix[len(tag):]
	}
	return k
}

// checkPrefix refuses, on Redis Cluster, a prefix with braces: a hash tag in
// it would put every channel in one slot, on one shard.
func checkPrefix(prefix string, t Topology) error {
	if t == TopologyCluster && strings.ContainsAny(prefix, "{}") {
		return herald.Errorf(herald.EINVALID, "on Redis Cluster the prefix must not hold { or }: Herald places its keys on slots itself")
	}
	return nil
}

// Pub/sub channels. User and channel names are used as they are: the one-letter
// kind before them keeps "u:x" and "c:x" apart whatever x holds. On Redis
// Cluster they are sharded channels, each in the slot its name hashes to.
func (k keys) user(name string) string    { return k.prefix + "u:" + name }
func (k keys) channel(name string) string { return k.prefix + "c:" + name }
func (k keys) all() string                { return k.prefix + "all" }
func (k keys) probe(node string) string   { return k.prefix + "probe:" + node }

// shardProbe is a node's probe channel on the shard that serves slot s.
func (k keys) shardProbe(node string, s int) string {
	return k.prefix + "probe:" + node + ":{" + slotTag(s) + "}"
}

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
func (k keys) node(id string) string       { return k.facts + "node:" + id }       // string: the node's stats, with a TTL
func (k keys) nodes() string               { return k.facts + "nodes" }            // set: ids of nodes that may live
func (k keys) nodeUsers(id string) string  { return k.facts + "nodeusers:" + id }  // set: users with connections on node id
func (k keys) presence(user string) string { return k.facts + "presence:" + user } // hash: node id → connections
func (k keys) online() string              { return k.facts + "online" }           // set: users connected anywhere

func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
