package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// ClusterConfig configures a Cluster. The zero value works: a node of
// DefaultNodeID() on DefaultURL, with no per-user cap and empty stats.
type ClusterConfig struct {
	Client *Client // default: NewClient of the zero ClientConfig
	NodeID string  // default DefaultNodeID()
	Prefix string  // default DefaultPrefix
	// Stats reports this node's connections for its heartbeat (default:
	// empty figures). Herald passes hub.Hub.Stats.
	Stats func() herald.Stats
	// MaxPerUser caps one user's connections across the whole cluster
	// (0: no cap; presence is kept all the same).
	MaxPerUser int
	// HeartbeatInterval is how often the node writes its figures (default
	// 5s). They live three intervals: a node silent that long is dead, and
	// its connections stop counting towards presence and the cap.
	HeartbeatInterval time.Duration
	// Timeout bounds one Redis call made for a connecting or leaving client
	// (default 250ms). Past it the call is given up and the client admitted.
	Timeout time.Duration
	Logger  *slog.Logger     // default: discard
	Metrics *Metrics         // default: a fresh, unregistered set
	Now     func() time.Time // default time.Now
}

func (c *ClusterConfig) setDefaults() error {
	if c.Client == nil {
		cl, err := NewClient(ClientConfig{})
		if err != nil {
			return err
		}
		c.Client = cl
	}
	orDefault(&c.NodeID, DefaultNodeID())
	orDefault(&c.HeartbeatInterval, 5*time.Second)
	orDefault(&c.Timeout, 250*time.Millisecond)
	if c.Stats == nil {
		c.Stats = func() herald.Stats { return herald.Stats{} }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxPerUser < 0 {
		return herald.Errorf(herald.EINVALID, "MaxPerUser must not be negative")
	}
	if err := checkPrefix(c.Prefix, c.Client.Topology()); err != nil {
		return err
	}
	return ValidNodeID(c.NodeID)
}

// Cluster keeps the facts the nodes share in Redis: which nodes live and
// their figures (each node's heartbeat, with a TTL), and how many connections
// each user has on each node, from which follow presence and the per-user cap
// across the cluster.
//
// Each user's counts are a hash of node id → connections. Scripts add and
// remove one connection atomically. Each heartbeat also sweeps away the
// counts of nodes whose heartbeat expired, so a killed node's connections
// stop counting within a heartbeat of its expiry.
//
// On Redis Cluster every fact carries the prefix as a hash tag, so they all
// live in one slot: the scripts touch several keys, all declared (KEYS),
// and stats read several at once. Their load (one script per connection
// and disconnection, one heartbeat per node every few seconds) stays on one
// shard; pub/sub, the bulk of the traffic, spreads over all of them.
//
// Redis is not on the critical path: when it fails, connections are admitted
// on the node's own limits, and the node rewrites its true counts once Redis
// answers again (also after Redis restarted empty).
type Cluster struct {
	cfg    ClusterConfig
	k      keys
	client *Client
	log    *slog.Logger
	m      *Metrics

	// counting is held shared by each Admit and Release across its Redis
	// round trip and its change of local, so that a node's connects proceed
	// in parallel, and exclusively by a rewrite of the counts, which must
	// not interleave with them. mu guards local.
	counting sync.RWMutex
	mu       sync.Mutex
	local    map[string]int // user → connections admitted on this node

	stale atomic.Bool // Redis may not match local: rewrite at the next heartbeat
	down  atomic.Bool // the last Redis call failed: admit without asking
}

// NewCluster returns a Cluster; it touches Redis only when used.
func NewCluster(cfg ClusterConfig) (*Cluster, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:    cfg,
		k:      newKeys(cfg.Prefix, cfg.Client.Topology()),
		client: cfg.Client,
		log:    cfg.Logger,
		m:      cfg.Metrics,
		local:  make(map[string]int),
	}
	c.stale.Store(true) // the first heartbeat writes what this node has
	return c, nil
}

// Run heartbeats until ctx ends, then removes the node from Redis so that it
// stops counting at once. The first heartbeat also clears what an earlier
// process with the same node id left. It returns nil when ctx ends.
func (c *Cluster) Run(ctx context.Context) error {
	c.heartbeat(ctx)
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			c.leave(lctx)
			return nil
		case <-t.C:
			c.heartbeat(ctx)
		}
	}
}

// heartbeat writes the node's figures, notices when Redis lost the node's
// entries (expired in an outage, or Redis restarted empty) and rewrites its
// counts then, and sweeps the entries of dead nodes. The first one also
// replaces what an earlier process of the same id left.
func (c *Cluster) heartbeat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HeartbeatInterval)
	defer cancel()
	st := c.cfg.Stats()
	st.Timestamp = c.cfg.Now().UTC()
	body, err := json.Marshal(st)
	if err != nil {
		c.log.Error("cluster: encoding this node's stats", "err", err)
		return
	}
	err = c.client.SetArgs(ctx, c.k.node(c.cfg.NodeID), body, goredis.SetArgs{TTL: 3 * c.cfg.HeartbeatInterval, Get: true}).Err()
	switch {
	case errors.Is(err, goredis.Nil):
		// No earlier heartbeat: a start, or Redis lost the node's entries.
		c.stale.Store(true)
	case err != nil:
		c.failed(err)
		return
	}
	if err := c.client.SAdd(ctx, c.k.nodes(), c.cfg.NodeID).Err(); err != nil {
		c.failed(err)
		return
	}
	if c.stale.Load() {
		if err := c.rewrite(ctx); err != nil {
			c.failed(err)
			return
		}
	}
	if c.down.CompareAndSwap(true, false) {
		c.log.Info("cluster: Redis answers again; counts rewritten")
	}
	c.m.heartbeats.WithLabelValues("ok").Inc()
	if err := c.sweep(ctx); err != nil {
		c.log.Warn("cluster: sweeping dead nodes", "err", err)
	}
}

// failed records a Redis failure: until a heartbeat succeeds, connections
// are admitted without asking, and the counts are rewritten after.
func (c *Cluster) failed(err error) {
	c.stale.Store(true)
	c.m.heartbeats.WithLabelValues("failed").Inc()
	if c.down.CompareAndSwap(false, true) {
		c.log.Warn("cluster: Redis unreachable; admitting on local limits until it is back", "err", err)
	}
}

// rewrite replaces this node's counts in Redis by the local truth.
func (c *Cluster) rewrite(ctx context.Context) error {
	c.counting.Lock()
	defer c.counting.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	had, err := c.client.SMembers(ctx, c.k.nodeUsers(c.cfg.NodeID)).Result()
	if err != nil {
		return err
	}
	pipe := c.client.Pipeline()
	for _, u := range had {
		if _, ok := c.local[u]; !ok {
			c.dropScript(ctx, pipe, c.cfg.NodeID, u)
		}
	}
	for u, n := range c.local {
		pipe.HSet(ctx, c.k.presence(u), c.cfg.NodeID, n)
		pipe.SAdd(ctx, c.k.nodeUsers(c.cfg.NodeID), u)
		pipe.SAdd(ctx, c.k.online(), u)
		if pipe.Len() >= 3000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	c.stale.Store(false)
	return nil
}

// sweep removes the entries of nodes whose heartbeat expired.
func (c *Cluster) sweep(ctx context.Context) error {
	ids, err := c.client.SMembers(ctx, c.k.nodes()).Result()
	if err != nil {
		return err
	}
	alive, err := c.alive(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if alive[id] {
			continue
		}
		if err := c.dropNode(ctx, id); err != nil {
			return err
		}
		c.log.Info("cluster: removed a dead node", "dead", id)
	}
	return nil
}

// alive reports which of ids have a live heartbeat.
func (c *Cluster) alive(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = c.k.node(id)
	}
	vals, err := c.client.MGet(ctx, names...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		out[ids[i]] = v != nil
	}
	return out, nil
}

// dropNode removes every count of node id and the node itself.
func (c *Cluster) dropNode(ctx context.Context, id string) error {
	users, err := c.client.SMembers(ctx, c.k.nodeUsers(id)).Result()
	if err != nil {
		return err
	}
	pipe := c.client.Pipeline()
	for _, u := range users {
		c.dropScript(ctx, pipe, id, u)
		if pipe.Len() >= 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	pipe.Del(ctx, c.k.nodeUsers(id))
	pipe.SRem(ctx, c.k.nodes(), id)
	_, err = pipe.Exec(ctx)
	return err
}

// leave removes this node at shutdown.
func (c *Cluster) leave(ctx context.Context) {
	c.mu.Lock()
	clear(c.local)
	c.mu.Unlock()
	if err := c.client.Del(ctx, c.k.node(c.cfg.NodeID)).Err(); err != nil {
		c.log.Warn("cluster: leaving", "err", err)
		return
	}
	if err := c.dropNode(ctx, c.cfg.NodeID); err != nil {
		c.log.Warn("cluster: leaving", "err", err)
	}
}

// Stats returns the cluster's figures and one row per live node, sorted by
// node id. TotalUsers counts distinct users across nodes; the other totals
// (connections, channels, transports) are sums of the nodes' last heartbeats.
func (c *Cluster) Stats(ctx context.Context) (herald.Stats, []herald.NodeStats, error) {
	total := herald.Stats{ChannelCounts: map[string]int{}, Timestamp: c.cfg.Now().UTC()}
	ids, err := c.client.SMembers(ctx, c.k.nodes()).Result()
	if err != nil {
		return total, nil, unavailable(err)
	}
	slices.Sort(ids)
	var rows []herald.NodeStats
	if len(ids) > 0 {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = c.k.node(id)
		}
		vals, err := c.client.MGet(ctx, names...).Result()
		if err != nil {
			return total, nil, unavailable(err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // expired: a dead node not swept yet
			}
			var st herald.Stats
			if err := json.Unmarshal([]byte(s), &st); err != nil {
				continue
			}
			rows = append(rows, herald.NodeStats{Node: ids[i], Stats: st})
			total.TotalConnections += st.TotalConnections
			for ch, n := range st.ChannelCounts {
				total.ChannelCounts[ch] += n
			}
			for tr, n := range st.Transports {
				if total.Transports == nil {
					total.Transports = map[string]int{}
				}
				total.Transports[tr] += n
			}
		}
	}
	users, err := c.client.SCard(ctx, c.k.online()).Result()
	if err != nil {
		return total, nil, unavailable(err)
	}
	total.TotalUsers = int(users)
	return total, rows, nil
}

// unavailable hides a Redis error, which may name hosts, behind EUNAVAILABLE.
func unavailable(err error) error {
	if herald.CodeOf(err) != herald.EINTERNAL {
		return err
	}
	return herald.Errorf(herald.EUNAVAILABLE, "Cluster state unavailable: Redis is unreachable")
}
