package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// clusterFlags let fanout measure several Herald nodes on one PostgreSQL and
// one Redis: nodes it starts itself (--nodes), or running nodes it attaches to
// (--addrs with one --server-pid each).
type clusterFlags struct {
	nodes     int
	redisURL  string
	addrs     []string
	redisPids []int
	sendVia   string
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.nodes, "nodes", 1, "Herald nodes to start, on --database-url and --redis-url with the same secrets; "+
		"subscribers are spread over them round-robin")
	fs.StringVar(&f.redisURL, "redis-url", "", "REDIS_URL of the started nodes (needed with --nodes above 1; with 1, the node runs on the Redis broker): "+
		"redis://host:port/db, redis-sentinel://[:pw@]host:port,.../master or redis-cluster://host:port,... (Redis Cluster, sharded pub/sub)")
	fs.Func("addrs", "attach to these running nodes, host:port separated by commas, each with its --server-pid in the same order", func(v string) error {
		for _, a := range strings.Split(v, ",") {
			if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
				return fmt.Errorf("%q: %w", a, err)
			}
			f.addrs = append(f.addrs, strings.TrimSpace(a))
		}
		return nil
	})
	fs.Func("redis-pid", "pid of a redis-server whose CPU time each round reports, summed over every pid given "+
		"(comma-separated or repeated: every node of a Redis Cluster; none: not measured)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || pid <= 0 {
				return fmt.Errorf("%q is not a process id", s)
			}
			f.redisPids = append(f.redisPids, pid)
		}
		return nil
	})
	fs.StringVar(&f.sendVia, "send-via", "0", `node the POSTs go through: its index in the node list, or "rotate" (message i through node i mod nodes)`)
}

// sendPlan is where each message of a round is posted.
type sendPlan struct {
	node   int  // the node, unless rotate
	rotate bool // message i through node i mod n
}

// parseSendVia reads --send-via for n nodes.
func parseSendVia(v string, n int) (sendPlan, error) {
	if v == "rotate" {
		return sendPlan{rotate: true}, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i >= n {
		return sendPlan{}, fmt.Errorf(`--send-via %q: want "rotate" or a node index from 0 to %d`, v, n-1)
	}
	return sendPlan{node: i}, nil
}

// via returns the node message seq goes through.
func (p sendPlan) via(seq, n int) int {
	if p.rotate {
		return seq % n
	}
	return p.node
}

func (p sendPlan) String() string {
	if p.rotate {
		return "rotate"
	}
	return "node " + strconv.Itoa(p.node)
}

// checkNodes validates the combination of server and cluster flags and
// returns how many nodes the run measures.
func checkNodes(sf *serverFlags, cf *clusterFlags) (int, error) {
	if cf.nodes < 1 {
		return 0, errors.New("--nodes must be at least 1")
	}
	if len(sf.pids) > 0 { // attaching
		if cf.nodes > 1 || cf.redisURL != "" {
			return 0, errors.New("--nodes and --redis-url start nodes; --server-pid attaches to running ones: choose one")
		}
		addrs := len(cf.addrs)
		if addrs == 0 {
			addrs = 1 // --addr, or its default
		} else if sf.addr != "" {
			return 0, errors.New("give --addr or --addrs, not both")
		}
		if len(sf.pids) != addrs {
			return 0, fmt.Errorf("%d --server-pid for %d node address(es): give one per node, in the order of --addrs", len(sf.pids), addrs)
		}
		return addrs, nil
	}
	if len(cf.addrs) > 0 {
		return 0, errors.New("--addrs attaches to running nodes: give their --server-pid too")
	}
	if cf.nodes > 1 {
		if sf.databaseURL == "" || cf.redisURL == "" {
			return 0, errors.New("--nodes above 1 needs --database-url (PostgreSQL) and --redis-url: nodes share their store and talk through Redis")
		}
		if sf.addr != "" {
			return 0, errors.New("--addr names one node; started nodes each get a free loopback port")
		}
	}
	return cf.nodes, nil
}

// startOrAttachNodes returns the nodes to measure: started with one set of
// secrets, REDIS_URL and an id each when --nodes or --redis-url is given,
// attached to when --server-pid is, otherwise the single server of the other
// commands. perNode is the connection limit each started node gets.
func startOrAttachNodes(ctx context.Context, sf *serverFlags, cf *clusterFlags, perNode int) ([]*target, error) {
	n, err := checkNodes(sf, cf)
	if err != nil {
		return nil, err
	}
	if len(sf.pids) > 0 {
		addrs := cf.addrs
		if len(addrs) == 0 {
			addrs = []string{sf.addr}
		}
		var ts []*target
		for i, pid := range sf.pids {
			t, err := attach(sf, pid, addrs[i])
			if err != nil {
				return nil, fmt.Errorf("node %d: %w", i, err)
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	if cf.redisURL == "" {
		t, err := startOrAttach(ctx, sf, perNode)
		if err != nil {
			return nil, err
		}
		return []*target{t}, nil
	}
	apiKey, secret, run := randomHex(24), randomHex(32), randomHex(3)
	var ts []*target
	for i := range n { // one after the other: the first migrates the database
		spec := nodeSpec{addr: sf.addr, apiKey: apiKey, jwtSecret: secret,
			env: []string{"REDIS_URL=" + cf.redisURL, fmt.Sprintf("HERALD_NODE_ID=bench-%s-%d", run, i)}}
		t, err := start(ctx, sf, perNode, spec)
		if err != nil {
			stopNodes(ts, false)
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// stopNodes stops the started nodes, all at once since each may take a few
// seconds to drain.
func stopNodes(ts []*target, keep bool) {
	var wg sync.WaitGroup
	for _, t := range ts {
		if t != nil {
			wg.Add(1)
			go func() { defer wg.Done(); t.stop(keep) }()
		}
	}
	wg.Wait()
}

// wsURLs lists the nodes' WebSocket endpoints, for job.URLs.
func wsURLs(ts []*target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.wsURL())
	}
	return out
}
