package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/redis"
)

// clusterNode is a node's Redis side, present when Redis is configured
// (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ADDRS): the broker between
// nodes, the shared facts (stats, presence, the per-user cap) and, when
// HERALD_EVENTS_STREAM is set, the stream consumer.
type clusterNode struct {
	id       string
	client   *redis.Client
	broker   *redis.Broker
	facts    *redis.Cluster
	consumer *redis.Consumer
	metrics  *redis.Metrics
}

// ClusterConfig is the Redis that makes this node one of several, and what
// the node keeps there.
type ClusterConfig struct {
	Redis        redis.ClientConfig
	NodeID       string // empty: hostname-pid
	Prefix       string
	EventsStream string
	EventsGroup  string
}

var clusterSettings = []setting{
	{"REDIS_URL", "redis-url", "", "Redis URL that makes this node one of several: messages, presence, stats and the per-user cap cross nodes through it; needs DATABASE_URL and the same secrets on every node. redis://[:password@]host:port/db (one server), redis-sentinel://[:password@]host:port,host:port/master[/db] (Sentinel) or redis-cluster://[:password@]host:port,host:port (Redis Cluster)"},
	{"REDIS_SENTINELS", "redis-sentinels", "", "comma-separated host:port of Redis Sentinels, instead of REDIS_URL: reach the primary they monitor as REDIS_MASTER_NAME and follow its failovers"},
	{"REDIS_MASTER_NAME", "redis-master-name", "", "name the sentinels monitor the primary under (with REDIS_SENTINELS)"},
	{"REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "", "password of the sentinels themselves (with REDIS_SENTINELS or a redis-sentinel:// REDIS_URL)"},
	{"REDIS_CLUSTER_ADDRS", "redis-cluster-addrs", "", "comma-separated host:port of some Redis Cluster nodes, instead of REDIS_URL: sharded pub/sub over the cluster's shards (Redis 7 or later)"},
	{"REDIS_PASSWORD", "redis-password", "", "password of the Redis servers reached through REDIS_SENTINELS or REDIS_CLUSTER_ADDRS (a REDIS_URL carries its own)"},
	{"HERALD_NODE_ID", "node-id", "", "this node's id in the cluster, in its logs and metrics (default: hostname-pid)"},
	{"HERALD_REDIS_PREFIX", "redis-prefix", "herald:", "prefix of Herald's Redis keys and channels, so several deployments can share one Redis"},
	{"HERALD_EVENTS_STREAM", "events-stream", "", "Redis Stream of domain events to consume, as POST /api/events bodies in the field \"event\" (empty: none; needs Redis)"},
	{"HERALD_EVENTS_GROUP", "events-group", "herald", "consumer group of HERALD_EVENTS_STREAM that the nodes share"},
}

func parseCluster(p *parser, c *Config) {
	c.Cluster = ClusterConfig{
		Redis: redis.ClientConfig{
			URL:              p.str("REDIS_URL"),
			Sentinels:        p.list("REDIS_SENTINELS"),
			MasterName:       p.str("REDIS_MASTER_NAME"),
			SentinelPassword: p.str("REDIS_SENTINEL_PASSWORD"),
			ClusterAddrs:     p.list("REDIS_CLUSTER_ADDRS"),
			Password:         p.str("REDIS_PASSWORD"),
		},
		NodeID:       p.str("HERALD_NODE_ID"),
		Prefix:       p.str("HERALD_REDIS_PREFIX"),
		EventsStream: p.str("HERALD_EVENTS_STREAM"),
		EventsGroup:  p.str("HERALD_EVENTS_GROUP"),
	}
}

// clustered reports whether a Redis is configured, which makes this node
// one of several.
func (c *Config) clustered() bool {
	r := c.Cluster.Redis
	return r.URL != "" || len(r.Sentinels) > 0 || len(r.ClusterAddrs) > 0
}

// checkCluster checks the cluster settings: a cluster needs a store every
// node shares, which SQLite (one file, one process) is not.
func (c *Config) checkCluster(p *parser) {
	cl := c.Cluster
	if !c.clustered() {
		for _, kv := range [][2]string{{"HERALD_EVENTS_STREAM", cl.EventsStream}, {"REDIS_MASTER_NAME", cl.Redis.MasterName},
			{"REDIS_SENTINEL_PASSWORD", cl.Redis.SentinelPassword}, {"REDIS_PASSWORD", cl.Redis.Password}} {
			if kv[1] != "" {
				p.fail(kv[0], "needs Redis: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ADDRS")
			}
		}
		return
	}
	if c.Store.DatabaseURL == "" {
		p.errorf("REDIS_URL runs this node as one of several, which must share their notifications: " +
			"set DATABASE_URL to a PostgreSQL database (SQLite serves a single node only)")
	}
	if err := cl.Redis.Check(); err != nil {
		p.errorf("%s", herald.ErrorMessage(err))
	}
	if id := cl.NodeID; id != "" {
		if err := redis.ValidNodeID(id); err != nil {
			p.errorf("HERALD_NODE_ID: %s", herald.ErrorMessage(err))
		}
	}
	for _, kv := range [][2]string{{"JWT_SECRET", c.Auth.JWTSecret}, {"HERALD_API_KEY", c.Auth.APIKey}} {
		if kv[1] == "" {
			p.errorf("REDIS_URL needs %s set, to the same value on every node (a generated one differs per node)", kv[0])
		}
	}
	switch {
	case cl.Prefix == "":
		p.fail("HERALD_REDIS_PREFIX", "must not be empty")
	case cl.Redis.Topology() == redis.TopologyCluster && strings.ContainsAny(cl.Prefix, "{}"):
		p.fail("HERALD_REDIS_PREFIX", "must not hold { or } on Redis Cluster: Herald spreads its channels over slots by name")
	}
}

// nodeID is HERALD_NODE_ID, or hostname-pid.
func (c *Config) nodeID() string {
	if c.Cluster.NodeID != "" {
		return c.Cluster.NodeID
	}
	return redis.DefaultNodeID()
}

// clusterLogger adds the node id to every log line of a cluster node.
func clusterLogger(cfg *Config, log *slog.Logger) *slog.Logger {
	if !cfg.clustered() {
		return log
	}
	return log.With("node", cfg.nodeID())
}

// newRegistry returns the metrics registry and the registerer to add
// collectors through: in a cluster it labels every metric with the node id.
func (a *app) newRegistry() (*prometheus.Registry, prometheus.Registerer) {
	reg := prometheus.NewRegistry()
	if a.cluster == nil {
		return reg, reg
	}
	r := prometheus.WrapRegistererWith(prometheus.Labels{"node": a.cluster.id}, reg)
	r.MustRegister(a.cluster.metrics.Collectors()...)
	return reg, r
}

// wireBroker makes the hub with hc and the broker in front of it: the
// in-memory broker for a single node, or with Redis the Redis broker,
// which the hub tells which users and channels have local connections.
func (a *app) wireBroker(hc hub.Config) error {
	if !a.cfg.clustered() {
		a.hub = hub.New(hc)
		a.broker = memory.NewBroker(a.hub)
		return nil
	}
	client, err := redis.NewClient(a.cfg.Cluster.Redis)
	if err != nil {
		return err
	}
	clientLogOnce.Do(func() { redis.SetClientLogger(a.log) }) // a process-wide setting
	cn := &clusterNode{id: a.cfg.nodeID(), client: client, metrics: redis.NewMetrics()}
	prefix := a.cfg.Cluster.Prefix
	// The broker delivers to the hub, made just after it; nothing is
	// delivered before Run starts.
	cn.broker, err = redis.NewBroker(deliverFunc(func(m *herald.Message) int { return a.hub.Deliver(m) }), redis.BrokerConfig{
		Client:       client,
		NodeID:       cn.id,
		Prefix:       prefix,
		OnRecover:    func() { a.ws.Resync(); a.sse.Resync() },
		OnSubscribed: func(user string) { a.ws.ResyncUser(user); a.sse.ResyncUser(user) },
		Logger:       a.log,
		Metrics:      cn.metrics,
	})
	if err != nil {
		client.Close()
		return err
	}
	hc.Interest = cn.broker
	a.hub = hub.New(hc)
	a.broker = cn.broker
	cn.facts, err = redis.NewCluster(redis.ClusterConfig{
		Client:     client,
		NodeID:     cn.id,
		Prefix:     prefix,
		Stats:      a.localStats,
		MaxPerUser: hc.MaxPerUser,
		Logger:     a.log,
		Metrics:    cn.metrics,
	})
	if err != nil {
		client.Close()
		return err
	}
	a.cluster = cn
	a.log.Info("cluster: redis", "redis", client.String(), "prefix", prefix)
	return nil
}

// wireEvents starts consuming HERALD_EVENTS_STREAM into ev, when set.
func (a *app) wireEvents(ev herald.EventHandler) error {
	stream := a.cfg.Cluster.EventsStream
	if a.cluster == nil || stream == "" {
		return nil
	}
	var err error
	a.cluster.consumer, err = redis.NewConsumer(redis.ConsumerConfig{
		Client:   a.cluster.client,
		Handler:  ev,
		Stream:   stream,
		Group:    a.cfg.Cluster.EventsGroup,
		Consumer: a.cluster.id,
		Logger:   a.log,
		Metrics:  a.cluster.metrics,
	})
	return err
}

// admission is the cluster's per-user cap across nodes, which every
// connection passes before it takes a place on this node; nil on a single
// node, where the hub's own limits are the whole policy.
func (a *app) admission() herald.Admission {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.facts
}

// clusterReady adds the cluster's state to readiness: a node that lost Redis
// still serves its own connections and accepts notifications, but says it
// is degraded.
func (a *app) clusterReady() error {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.broker.Healthy()
}

// startCluster runs the cluster's background work besides the broker: the
// heartbeat and the stream consumer. The returned function waits for them
// after ctx ends, so that the node has left the cluster before the process
// exits, and closes the Redis client.
func (a *app) startCluster(ctx context.Context) (wait func()) {
	if a.cluster == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.cluster.facts.Run(ctx) }()
	if a.cluster.consumer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.cluster.consumer.Run(ctx) }()
	}
	return func() {
		wg.Wait()
		a.cluster.client.Close()
	}
}

// clusterStats returns the cluster's totals and one row per live node, or,
// on a single node, this node's figures as the totals and no rows. It is what
// GET /api/stats reports.
func (a *app) clusterStats(ctx context.Context) (herald.Stats, []herald.NodeStats, error) {
	if a.cluster == nil {
		return a.localStats(), nil, nil
	}
	return a.cluster.facts.Stats(ctx)
}

// presence reports whether user is connected anywhere, and on which nodes.
func (a *app) presence(ctx context.Context, user string) (bool, []string, error) {
	if a.cluster == nil {
		if a.hub.UserConns(user) > 0 {
			return true, []string{"local"}, nil
		}
		return false, nil, nil
	}
	return a.cluster.facts.Presence(ctx, user)
}

var clientLogOnce sync.Once

// deliverFunc adapts a function to herald.Deliverer.
type deliverFunc func(*herald.Message) int

func (f deliverFunc) Deliver(m *herald.Message) int { return f(m) }
