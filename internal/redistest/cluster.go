package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// NodeTimeout is the cluster-node-timeout of the test clusters: how long a
// primary may be silent before its replica takes over. Short, so that a
// failover takes a few seconds.
const NodeTimeout = 2 * time.Second

// Cluster is a Redis Cluster of three primaries with one replica each, made
// as an operator makes one: six redis-server processes with
// --cluster-enabled yes, joined by redis-cli --cluster create
// --cluster-replicas 1.
type Cluster struct {
	// Nodes are the six servers, in start order; which are primaries
	// changes with failovers (see Primaries).
	Nodes []*Server

	mu      sync.Mutex
	aliases map[string]*Server // addresses nodes announce (Announce)
}

var (
	clusterOnce   sync.Once
	sharedCluster *Cluster
	clusterErr    error
)

// NewCluster starts a Redis Cluster for t alone, killed when t ends. Tests
// that kill a primary or move slots use one.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(c.kill)
	return c
}

// NewClusterDB returns a fresh prefix on the Redis Cluster the test binary
// shares (Redis Cluster has only database 0); Main stops the cluster.
func NewClusterDB(t testing.TB) *DB {
	t.Helper()
	clusterOnce.Do(func() {
		if stopped.Load() {
			clusterErr = errors.New("redistest: stopped")
			return
		}
		sharedCluster, clusterErr = startCluster()
	})
	if clusterErr != nil {
		fail(t, clusterErr)
	}
	return sharedCluster.NewDB(t)
}

// NewDB returns a fresh prefix on c.
func (c *Cluster) NewDB(t testing.TB) *DB {
	n := nextTest.Add(1)
	return &DB{URL: c.URL(), Prefix: fmt.Sprintf("t%d-%d:", os.Getpid(), n)}
}

// URL is the cluster's redis-cluster:// URL, naming every node.
func (c *Cluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Addrs lists every node's host:port.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Nodes {
		out = append(out, s.Addr())
	}
	return out
}

func startCluster() (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, errNotInstalled
	}
	c := &Cluster{}
	for range 6 {
		s, err := startWith(&Server{extra: clusterArgs})
		if err != nil {
			c.kill()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.kill()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(time.Minute, true); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// clusterArgs makes a server a cluster node, with a cluster bus port of its
// own (not port+10000, which may be taken).
func clusterArgs(s *Server) []string {
	for s.busPort == 0 || s.busPort == s.port {
		p, err := freePort()
		if err != nil {
			break
		}
		s.busPort = p
	}
	return []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout / time.Millisecond)),
		"--cluster-port", strconv.Itoa(s.busPort),
	}
}

func (c *Cluster) kill() {
	for _, s := range c.Nodes {
		s.kill()
	}
}

// client returns a client of one node, closed by the caller.
func nodeClient(s *Server) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: 5 * time.Second,
		MaxRetries: -1, PoolSize: 1})
}

// clusterView is what one node says of the cluster.
type clusterView struct {
	state    string
	slotsOK  int
	owners   string         // "start-end addr" per range, sorted: compared across nodes
	masters  map[string]int // address → replicas of it that are connected
	replicas map[string]string
}

func viewOf(ctx context.Context, s *Server) (*clusterView, error) {
	cl := nodeClient(s)
	defer cl.Close()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, err
	}
	v := &clusterView{masters: map[string]int{}, replicas: map[string]string{}}
	for _, line := range strings.Split(info, "\n") {
		k, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "cluster_state":
			v.state = val
		case "cluster_slots_ok":
			v.slotsOK, _ = strconv.Atoi(val)
		}
	}
	slotsRes, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	var ranges []string
	for _, r := range slotsRes {
		if len(r.Nodes) > 0 {
			ranges = append(ranges, fmt.Sprintf("%d-%d %s", r.Start, r.End, r.Nodes[0].Addr))
		}
	}
	slices.Sort(ranges)
	v.owners = strings.Join(ranges, ",")
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	// <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots...>
	ids := map[string]string{}
	type row struct{ addr, flags, master, link string }
	var rows []row
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		ids[f[0]] = addr
		rows = append(rows, row{addr, f[2], f[3], f[7]})
	}
	for _, r := range rows {
		if strings.Contains(r.flags, "fail") || strings.Contains(r.flags, "noaddr") {
			continue
		}
		if strings.Contains(r.flags, "master") {
			if _, ok := v.masters[r.addr]; !ok {
				v.masters[r.addr] = 0
			}
		} else if strings.Contains(r.flags, "slave") && r.link == "connected" {
			v.replicas[r.addr] = ids[r.master]
		}
	}
	for _, m := range v.replicas {
		if _, ok := v.masters[m]; ok {
			v.masters[m]++
		}
	}
	return v, nil
}

// Healthy reports why the cluster is not settled: every running node says
// cluster_state:ok with all 16384 slots served, they agree on which primary
// serves which slot, and (withReplicas) every primary serving slots has a
// replica whose replication link is up.
func (c *Cluster) Healthy(ctx context.Context, withReplicas bool) error {
	var first *clusterView
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		v, err := viewOf(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		if v.state != "ok" || v.slotsOK != 16384 {
			return fmt.Errorf("%s: cluster_state %s, %d slots ok", s.Addr(), v.state, v.slotsOK)
		}
		if first == nil {
			first = v
		} else if v.owners != first.owners {
			return fmt.Errorf("%s sees slots %s, another node %s", s.Addr(), v.owners, first.owners)
		}
	}
	if first == nil {
		return errors.New("no node runs")
	}
	if !withReplicas {
		return nil
	}
	serving := map[*Server]bool{}
	for _, r := range strings.Split(first.owners, ",") {
		_, addr, _ := strings.Cut(r, " ")
		if first.masters[addr] == 0 {
			return fmt.Errorf("primary %s has no replica connected", addr)
		}
		serving[c.byAddr(addr)] = true
	}
	for _, s := range c.Nodes {
		if !s.Running() || serving[s] {
			continue
		}
		cl := nodeClient(s)
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica %s: replication link not up", s.Addr())
		}
	}
	return nil
}

func (c *Cluster) waitHealthy(d time.Duration, withReplicas bool) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Healthy(ctx, withReplicas)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: the cluster did not settle in %v: %w\n%s", d, err, c.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe returns what each running node says of the cluster (CLUSTER
// NODES), for the message of a cluster that did not settle.
func (c *Cluster) describe() string {
	var b strings.Builder
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl := nodeClient(s)
		nodes, err := cl.ClusterNodes(ctx).Result()
		cl.Close()
		cancel()
		fmt.Fprintf(&b, "CLUSTER NODES of %s (%v):\n%s\n", s.Addr(), err, nodes)
	}
	return b.String()
}

// WaitHealthy waits until the cluster is settled (see Healthy), failing t
// after d.
func (c *Cluster) WaitHealthy(t testing.TB, d time.Duration, withReplicas bool) {
	t.Helper()
	if err := c.waitHealthy(d, withReplicas); err != nil {
		t.Fatal(err)
	}
}

// byAddr returns the node at addr, or announced at addr.
func (c *Cluster) byAddr(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aliases[addr]
}

// Announce makes node s tell clients that it listens on port instead of its
// own (CONFIG SET cluster-announce-port), as a node behind NAT does, and
// waits until every running node reports that address. With a Proxy on port,
// a test can cut clients off from one shard.
func (c *Cluster) Announce(t testing.TB, s *Server, port int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c.mu.Lock()
	if c.aliases == nil {
		c.aliases = map[string]*Server{}
	}
	c.aliases[addr] = s
	c.mu.Unlock()
	cl := nodeClient(s)
	err := cl.ConfigSet(context.Background(), "cluster-announce-port", strconv.Itoa(port)).Err()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			ncl := nodeClient(n)
			nodes, err := ncl.ClusterNodes(context.Background()).Result()
			ncl.Close()
			if err != nil || !strings.Contains(nodes, " "+addr+"@") {
				all = false
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the nodes do not report %s for %s", addr, s.Addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Owners returns the primary serving each slot, as a running node sees it.
func (c *Cluster) Owners(t testing.TB) [16384]*Server {
	t.Helper()
	var out [16384]*Server
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		cl := nodeClient(s)
		res, err := cl.ClusterSlots(context.Background()).Result()
		cl.Close()
		if err != nil {
			continue
		}
		for _, r := range res {
			for sl := r.Start; sl <= r.End && len(r.Nodes) > 0; sl++ {
				out[sl] = c.byAddr(r.Nodes[0].Addr)
			}
		}
		return out
	}
	t.Fatal("redistest: no cluster node answers")
	return out
}

// Primaries returns the running primaries that serve slots, by address.
func (c *Cluster) Primaries(t testing.TB) []*Server {
	t.Helper()
	seen := map[*Server]bool{}
	var out []*Server
	for _, s := range c.Owners(t) {
		if s != nil && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Server) int { return strings.Compare(a.Addr(), b.Addr()) })
	return out
}

// ID returns a node's cluster id.
func (c *Cluster) ID(t testing.TB, s *Server) string {
	t.Helper()
	cl := nodeClient(s)
	defer cl.Close()
	id, err := cl.ClusterMyID(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// KillPrimary kills the primary serving slot, as a crash would, and waits
// until its replica took over and the cluster is settled again. It returns
// the killed server, which Start brings back as a replica.
func (c *Cluster) KillPrimary(t testing.TB, slot int) *Server {
	t.Helper()
	victim := c.Owners(t)[slot]
	if victim == nil {
		t.Fatalf("redistest: no primary serves slot %d", slot)
	}
	victim.Kill()
	// The replica waits NodeTimeout before it calls the primary failed,
	// then an election: a few seconds, more on a loaded machine.
	deadline := time.Now().Add(30*time.Second + 5*NodeTimeout)
	for {
		err := c.waitHealthy(time.Second, false)
		if err == nil {
			if o := c.Owners(t)[slot]; o != nil && o != victim {
				return victim
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: no replica took over slot %d: %v", slot, err)
		}
	}
}

// Reshard moves n slots from primary from to primary to with redis-cli
// --cluster reshard, as an operator would (keys are moved with MIGRATE; the
// slots moved are the lowest from serves), and waits until every node
// agrees. It returns the slots moved.
func (c *Cluster) Reshard(t testing.TB, from, to *Server, n int) []int {
	t.Helper()
	before := c.Owners(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, "--cluster", "reshard", to.Addr(),
		"--cluster-from", c.ID(t, from), "--cluster-to", c.ID(t, to),
		"--cluster-slots", strconv.Itoa(n), "--cluster-yes").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster reshard: %v\n%s", err, out)
	}
	c.WaitHealthy(t, time.Minute, false)
	after := c.Owners(t)
	var moved []int
	for sl := range before {
		if before[sl] == from && after[sl] == to {
			moved = append(moved, sl)
		}
	}
	if len(moved) != n {
		t.Fatalf("redistest: reshard moved %d slots, want %d", len(moved), n)
	}
	return moved
}

// NumSub returns how many connections subscribe to channel: with PUBSUB
// NUMSUB, or on a Redis Cluster client, summing PUBSUB SHARDNUMSUB over the
// primaries (channel is then a sharded channel).
func NumSub(ctx context.Context, c goredis.UniversalClient, channel string) (int64, error) {
	cc, ok := c.(*goredis.ClusterClient)
	if !ok {
		got, err := c.PubSubNumSub(ctx, channel).Result()
		return got[channel], err
	}
	var mu sync.Mutex
	var n int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		got, err := m.PubSubShardNumSub(ctx, channel).Result()
		mu.Lock()
		n += got[channel]
		mu.Unlock()
		return err
	})
	return n, err
}
