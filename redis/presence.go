package redis

import (
	"context"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// admitScript adds one connection of a user on a node unless the user has
// MaxPerUser already, and returns the user's new total, or -1 when refused.
// The counts of dead nodes are not read here (a script may touch only the
// keys it declares, and the dead ones are not known before): heartbeats
// sweep them away.
//
// The node's own heartbeat key is created if missing (a node admits before
// its first heartbeat lands), so that other nodes do not take its counts for
// a dead node's.
//
// KEYS: presence hash, the node's user set, the online set, the node's
// heartbeat key, the set of node ids.
// ARGV: node id, limit (0: none), user id, heartbeat TTL in milliseconds.
var admitScript = goredis.NewScript(`
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 2, #fields, 2 do
  total = total + tonumber(fields[i])
end
local limit = tonumber(ARGV[2])
if limit > 0 and total >= limit then
  return -1
end
redis.call('SET', KEYS[4], '{}', 'PX', ARGV[4], 'NX')
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[3])
return total + 1
`)

// releaseScript removes one connection of a user on a node.
//
// KEYS: presence hash, the node's user set, the online set.
// ARGV: node id, user id.
var releaseScript = goredis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  if redis.call('HLEN', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[3], ARGV[2])
  end
end
return n
`)

// dropUserScript removes all of a node's connections of a user.
//
// KEYS: presence hash, the node's user set, the online set.
// ARGV: node id, user id.
var dropUserScript = goredis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
end
return 0
`)

// Admit reserves one connection for user across the cluster. It fails with
// EUNAVAILABLE when the user has MaxPerUser connections on live nodes. When
// Redis does not answer within Timeout the connection is admitted on the
// node's own limits, and counted once Redis is back. Every successful Admit
// needs one Release. It implements herald.Admission: concurrent calls run
// their round trips in parallel.
func (c *Cluster) Admit(ctx context.Context, user string) error {
	if user == "" {
		return herald.Errorf(herald.EINVALID, "user id is required")
	}
	c.counting.RLock()
	defer c.counting.RUnlock()
	if !c.down.Load() {
		tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		keys := append(c.userKeys(c.cfg.NodeID, user), c.k.node(c.cfg.NodeID), c.k.nodes())
		total, err := admitScript.Run(tctx, c.client, keys,
			c.cfg.NodeID, c.cfg.MaxPerUser, user, (3 * c.cfg.HeartbeatInterval).Milliseconds()).Int()
		cancel()
		switch {
		case err == nil && total < 0:
			c.m.admission.WithLabelValues("refused").Inc()
			return herald.Errorf(herald.EUNAVAILABLE, "Per-user connection limit reached")
		case err == nil:
			c.m.admission.WithLabelValues("ok").Inc()
			_ = c.count(user, 1)
			return nil
		case ctx.Err() != nil:
			return ctx.Err() // the caller gave up, not Redis
		}
		c.failed(err)
	}
	c.m.admission.WithLabelValues("unchecked").Inc()
	c.stale.Store(true)
	_ = c.count(user, 1)
	return nil
}

// count adds d to user's local connections. It reports false, changing
// nothing, for a release of a user without one.
func (c *Cluster) count(user string, d int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.local[user]
	if !ok && d < 0 {
		return false
	}
	if n += d; n > 0 {
		c.local[user] = n
	} else {
		delete(c.local, user)
	}
	return true
}

// Release gives back a connection Admit reserved.
func (c *Cluster) Release(user string) {
	c.counting.RLock()
	defer c.counting.RUnlock()
	if !c.count(user, -1) {
		return
	}
	if c.down.Load() {
		c.stale.Store(true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if err := releaseScript.Run(ctx, c.client, c.userKeys(c.cfg.NodeID, user), c.cfg.NodeID, user).Err(); err != nil {
		c.failed(err)
	}
}

// Presence reports whether user has a connection on some live node, and
// on which nodes, sorted.
func (c *Cluster) Presence(ctx context.Context, user string) (bool, []string, error) {
	if user == "" {
		return false, nil, herald.Errorf(herald.EINVALID, "user id is required")
	}
	counts, err := c.client.HGetAll(ctx, c.k.presence(user)).Result()
	if err != nil {
		return false, nil, unavailable(err)
	}
	ids := make([]string, 0, len(counts))
	for id, n := range counts {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			ids = append(ids, id)
		}
	}
	alive, err := c.alive(ctx, ids)
	if err != nil {
		return false, nil, unavailable(err)
	}
	nodes := ids[:0]
	for _, id := range ids {
		if alive[id] {
			nodes = append(nodes, id)
		}
	}
	slices.Sort(nodes)
	return len(nodes) > 0, nodes, nil
}

func (c *Cluster) userKeys(node, user string) []string {
	return []string{c.k.presence(user), c.k.nodeUsers(node), c.k.online()}
}

// dropScript queues on pipe the removal of node's connections of user.
func (c *Cluster) dropScript(ctx context.Context, pipe goredis.Pipeliner, node, user string) {
	// Eval, not Run: a pipeline cannot fall back from EVALSHA when Redis
	// lost its script cache.
	dropUserScript.Eval(ctx, pipe, c.userKeys(node, user), node, user)
}
