package redis

import (
	"crypto/tls"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/heraldhq/herald"
)

// Topology is how the Redis that Herald's nodes share is laid out.
type Topology int

const (
	// TopologySingle is one Redis server (or a primary whose address never
	// changes): pub/sub with SUBSCRIBE and PUBLISH.
	TopologySingle Topology = iota
	// TopologySentinel is a primary with replicas watched by Redis Sentinel:
	// the client asks the sentinels for the primary and follows a failover.
	TopologySentinel
	// TopologyCluster is Redis Cluster: keys and sharded channels spread over
	// shards by hash slot; user and channel topics use SSUBSCRIBE and
	// SPUBLISH (Redis 7 or later), so each message reaches only its shard.
	TopologyCluster
)

func (t Topology) String() string {
	switch t {
	case TopologySentinel:
		return "sentinel"
	case TopologyCluster:
		return "cluster"
	}
	return "single"
}

// ClientConfig says which Redis to reach. The zero value is one server at
// DefaultURL. Give a URL, or Sentinels with MasterName, or ClusterAddrs;
// not several.
type ClientConfig struct {
	// URL is one of
	//
	//	redis://[[user]:password@]host:port[/db]            one server (rediss:// with TLS)
	//	redis-sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db][?sentinel_password=...&sentinel_username=...]
	//	redis-cluster://[[user]:password@]host:port[,host:port...]
	//
	// A sentinel URL lists sentinels and names the primary they watch; its
	// user and password are those of the Redis servers, the sentinels' own
	// come as query parameters (or SentinelPassword). A cluster URL lists
	// some of the cluster's nodes: the client learns the others from them.
	// rediss-sentinel:// and rediss-cluster:// speak TLS.
	URL string
	// Sentinels (host:port) and MasterName choose Sentinel without a URL.
	Sentinels  []string
	MasterName string
	// SentinelPassword authenticates to the sentinels, with SentinelUsername
	// when they use ACL users (default: none).
	SentinelUsername string
	SentinelPassword string
	// ClusterAddrs (host:port) choose Redis Cluster without a URL: some of
	// its nodes.
	ClusterAddrs []string
	// Username and Password authenticate to the Redis servers reached
	// through Sentinels or ClusterAddrs; a URL carries its own.
	Username string
	Password string
	// DB is the database number of the primary reached through Sentinels
	// (Redis Cluster has only database 0).
	DB int
}

// Client timeouts: a node whose Redis stops answering must notice within
// about a second, so that it degrades to local delivery instead of stalling
// API requests.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
)

// Client is Herald's connection to Redis in any of its topologies: a
// go-redis client (a plain, failover or cluster client) that knows which
// topology it speaks to. The broker, the cluster facts and the stream
// consumer of one node share it.
type Client struct {
	goredis.UniversalClient
	topology Topology
	desc     string
	// node is the template of a client for one node of a Redis Cluster, the
	// broker's subscriptions being per shard; nil otherwise.
	node  *goredis.Options
	seeds []string
}

// NewClient returns a client for cfg. It does not connect until first used.
// Commands are not retried: a PUBLISH retried after a reply was lost would
// deliver twice, and callers here handle a failure better than a blind
// retry. On Redis Cluster, redirections (MOVED, ASK) are followed.
func NewClient(cfg ClientConfig) (*Client, error) {
	p, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	c := &Client{topology: p.topology, desc: p.desc}
	switch p.topology {
	case TopologySingle:
		c.UniversalClient = goredis.NewClient(p.single)
	case TopologySentinel:
		c.UniversalClient = goredis.NewFailoverClient(p.failover)
	case TopologyCluster:
		c.UniversalClient = goredis.NewClusterClient(p.cluster)
		c.node, c.seeds = p.node, p.cluster.Addrs
	}
	return c, nil
}

// Check reports whether cfg is complete and well formed, as NewClient
// would, without making a client.
func (cfg ClientConfig) Check() error {
	_, err := cfg.parse()
	return err
}

// Topology returns the topology cfg names (TopologySingle when cfg is not
// valid).
func (cfg ClientConfig) Topology() Topology {
	p, err := cfg.parse()
	if err != nil {
		return TopologySingle
	}
	return p.topology
}

// Topology returns how the Redis is laid out.
func (c *Client) Topology() Topology { return c.topology }

// String describes the Redis for logs: the topology and the addresses, never
// credentials.
func (c *Client) String() string { return c.desc }

// cluster returns the cluster client, or nil on another topology.
func (c *Client) cluster() *goredis.ClusterClient {
	cc, _ := c.UniversalClient.(*goredis.ClusterClient)
	return cc
}

// nodeClient returns a new client for one node of the Redis Cluster, with the
// cluster's credentials, TLS and timeouts.
func (c *Client) nodeClient(addr string) *goredis.Client {
	opt := *c.node
	opt.Addr = addr
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return goredis.NewClient(&opt)
}

// parsed is a ClientConfig resolved to go-redis options.
type parsed struct {
	topology Topology
	desc     string
	single   *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions
	node     *goredis.Options
}

func (cfg ClientConfig) parse() (*parsed, error) {
	forms := 0
	for _, set := range []bool{cfg.URL != "", len(cfg.Sentinels) > 0, len(cfg.ClusterAddrs) > 0} {
		if set {
			forms++
		}
	}
	if forms > 1 {
		return nil, herald.Errorf(herald.EINVALID, "give one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ADDRS")
	}
	if cfg.MasterName != "" && len(cfg.Sentinels) == 0 {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_MASTER_NAME needs REDIS_SENTINELS")
	}
	if (cfg.Username != "" || cfg.Password != "") && len(cfg.Sentinels) == 0 && len(cfg.ClusterAddrs) == 0 {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_PASSWORD is for REDIS_SENTINELS or REDIS_CLUSTER_ADDRS; a REDIS_URL carries its own")
	}
	switch {
	case len(cfg.Sentinels) > 0:
		if cfg.MasterName == "" {
			return nil, herald.Errorf(herald.EINVALID, "REDIS_SENTINELS needs REDIS_MASTER_NAME, the name the sentinels monitor the primary under")
		}
		if err := checkAddrs("REDIS_SENTINELS", cfg.Sentinels); err != nil {
			return nil, err
		}
		return cfg.sentinel(cfg.Sentinels, false), nil
	case len(cfg.ClusterAddrs) > 0:
		if err := checkAddrs("REDIS_CLUSTER_ADDRS", cfg.ClusterAddrs); err != nil {
			return nil, err
		}
		if cfg.SentinelPassword != "" || cfg.SentinelUsername != "" {
			return nil, herald.Errorf(herald.EINVALID, "REDIS_SENTINEL_PASSWORD is for Sentinel, not Redis Cluster")
		}
		return cfg.clusterOf(cfg.ClusterAddrs, false), nil
	}
	raw := cfg.URL
	if raw == "" {
		raw = DefaultURL
	}
	scheme, _, _ := strings.Cut(raw, "://")
	switch scheme {
	case "redis-sentinel", "rediss-sentinel":
		return cfg.parseSentinelURL(raw, scheme == "rediss-sentinel")
	case "redis-cluster", "rediss-cluster":
		return cfg.parseClusterURL(raw, scheme == "rediss-cluster")
	}
	if cfg.SentinelPassword != "" || cfg.SentinelUsername != "" {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_SENTINEL_PASSWORD is for Sentinel: use a redis-sentinel:// URL or REDIS_SENTINELS")
	}
	opt, err := goredis.ParseURL(raw)
	if err != nil {
		// go-redis's message may quote the URL, password included.
		return nil, herald.Errorf(herald.EINVALID, "REDIS_URL is not a valid redis://, rediss://, redis-sentinel:// or redis-cluster:// URL")
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
	return &parsed{topology: TopologySingle, desc: "redis " + opt.Addr, single: opt}, nil
}

// urlParts splits scheme://[userinfo@]host[,host...][/path][?query], which
// net/url refuses when it lists several hosts.
type urlParts struct {
	user, password string
	hasUser        bool
	hosts          []string
	path           []string
	query          url.Values
}

func splitURL(raw, setting string) (*urlParts, error) {
	bad := func(why string) error {
		return herald.Errorf(herald.EINVALID, "%s: %s", setting, why)
	}
	_, rest, _ := strings.Cut(raw, "://")
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	p := &urlParts{}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		info := authority[:i]
		authority = authority[i+1:]
		u, pw, hasPw := strings.Cut(info, ":")
		var err1, err2 error
		p.user, err1 = url.PathUnescape(u)
		p.password, err2 = url.PathUnescape(pw)
		if err1 != nil || err2 != nil {
			return nil, bad("bad escape in the credentials")
		}
		if !hasPw { // user@ alone is a password, as redis:// reads it
			p.user, p.password = "", p.user
		}
		p.hasUser = true
	}
	for _, h := range strings.Split(authority, ",") {
		p.hosts = append(p.hosts, strings.TrimSpace(h))
	}
	if err := checkAddrs(setting, p.hosts); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			v, err := url.PathUnescape(s)
			if err != nil {
				return nil, bad("bad escape in the path")
			}
			p.path = append(p.path, v)
		}
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, bad("bad query string")
	}
	p.query = q
	return p, nil
}

// checkAddrs requires host:port with a numeric port for each address.
func checkAddrs(setting string, addrs []string) error {
	if len(addrs) == 0 {
		return herald.Errorf(herald.EINVALID, "%s lists no address", setting)
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			return herald.Errorf(herald.EINVALID, "%s: %q is not host:port", setting, a)
		}
	}
	return nil
}

func (cfg ClientConfig) parseSentinelURL(raw string, useTLS bool) (*parsed, error) {
	p, err := splitURL(raw, "REDIS_URL")
	if err != nil {
		return nil, err
	}
	if len(p.path) == 0 || len(p.path) > 2 {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_URL: a redis-sentinel:// URL names the primary: redis-sentinel://host:port,host:port/master-name[/db]")
	}
	cfg.MasterName = p.path[0]
	if len(p.path) == 2 {
		if cfg.DB, err = strconv.Atoi(p.path[1]); err != nil || cfg.DB < 0 {
			return nil, herald.Errorf(herald.EINVALID, "REDIS_URL: %q is not a database number", p.path[1])
		}
	}
	cfg.Username, cfg.Password = p.user, p.password
	for k, v := range p.query {
		switch k {
		case "sentinel_password":
			cfg.SentinelPassword = v[len(v)-1]
		case "sentinel_username":
			cfg.SentinelUsername = v[len(v)-1]
		default:
			return nil, herald.Errorf(herald.EINVALID, "REDIS_URL: unknown parameter %q (sentinel_password and sentinel_username are known)", k)
		}
	}
	return cfg.sentinel(p.hosts, useTLS), nil
}

func (cfg ClientConfig) parseClusterURL(raw string, useTLS bool) (*parsed, error) {
	p, err := splitURL(raw, "REDIS_URL")
	if err != nil {
		return nil, err
	}
	if len(p.path) > 0 || len(p.query) > 0 {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_URL: a redis-cluster:// URL lists nodes only: redis-cluster://[user:password@]host:port,host:port")
	}
	if cfg.SentinelPassword != "" || cfg.SentinelUsername != "" {
		return nil, herald.Errorf(herald.EINVALID, "REDIS_SENTINEL_PASSWORD is for Sentinel, not Redis Cluster")
	}
	cfg.Username, cfg.Password = p.user, p.password
	return cfg.clusterOf(p.hosts, useTLS), nil
}

func tlsConfig(useTLS bool) *tls.Config {
	if !useTLS {
		return nil
	}
	// The server name comes from each address dialed.
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

func (cfg ClientConfig) sentinel(addrs []string, useTLS bool) *parsed {
	return &parsed{
		topology: TopologySentinel,
		desc:     "sentinel " + strings.Join(addrs, ",") + " primary " + cfg.MasterName,
		failover: &goredis.FailoverOptions{
			MasterName:            cfg.MasterName,
			SentinelAddrs:         addrs,
			SentinelUsername:      cfg.SentinelUsername,
			SentinelPassword:      cfg.SentinelPassword,
			Username:              cfg.Username,
			Password:              cfg.Password,
			DB:                    cfg.DB,
			DialTimeout:           dialTimeout,
			ReadTimeout:           ioTimeout,
			WriteTimeout:          ioTimeout,
			PoolTimeout:           ioTimeout,
			MaxRetries:            -1,
			DialerRetries:         1,
			ContextTimeoutEnabled: true,
			TLSConfig:             tlsConfig(useTLS),
		},
	}
}

func (cfg ClientConfig) clusterOf(addrs []string, useTLS bool) *parsed {
	co := &goredis.ClusterOptions{
		Addrs:                 addrs,
		Username:              cfg.Username,
		Password:              cfg.Password,
		DialTimeout:           dialTimeout,
		ReadTimeout:           ioTimeout,
		WriteTimeout:          ioTimeout,
		PoolTimeout:           ioTimeout,
		MaxRetries:            -1,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		TLSConfig:             tlsConfig(useTLS),
		// Redirections are followed (up to 3); failed commands are not
		// retried on another node (see noRetry).
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// go-redis reads the slot map again on a redirection, but a dead
		// primary answers none: without traffic errors it would keep the
		// map a minute. (The broker also asks for a reading as soon as it
		// sees the map change.)
		ClusterStateReloadInterval: 5 * time.Second,
	}
	node := &goredis.Options{
		Username:              cfg.Username,
		Password:              cfg.Password,
		DialTimeout:           dialTimeout,
		ReadTimeout:           ioTimeout,
		WriteTimeout:          ioTimeout,
		PoolTimeout:           ioTimeout,
		PoolSize:              2,
		MaxRetries:            -1,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		TLSConfig:             tlsConfig(useTLS),
	}
	return &parsed{topology: TopologyCluster, desc: "cluster " + strings.Join(addrs, ","), cluster: co, node: node}
}
