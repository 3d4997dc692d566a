package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
)

var (
	heraldOnce sync.Once
	heraldBin  string
	heraldErr  error
)

// buildHerald builds cmd/herald once per test binary, without the race
// detector: the server is under measurement here, not under test.
func buildHerald(t *testing.T) string {
	t.Helper()
	heraldOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bench-bin-")
		if err != nil {
			heraldErr = err
			return
		}
		heraldBin = filepath.Join(dir, "herald")
		out, err := exec.Command("go", "build", "-o", heraldBin, "github.com/heraldhq/herald/cmd/herald").CombinedOutput()
		if err != nil {
			heraldErr = err
			t.Logf("%s", out)
		}
	})
	if heraldErr != nil {
		t.Fatalf("building herald: %v", heraldErr)
	}
	return heraldBin
}

// The cluster fan-out end to end: two real Herald nodes on a real
// PostgreSQL and Redis, subscribers on both, messages sent through each node
// in turn. Every subscriber gets every message, the figures add up by node,
// and both nodes' CPU is measured.
func TestFanoutAcrossHeraldNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and two Herald nodes")
	}
	db := pgtest.NewDatabase(t)
	rd := redistest.New(t)
	bin := buildHerald(t)
	o, err := parseFanout([]string{"--server-bin", bin, "--nodes=2", "--database-url", db, "--redis-url", rd.URL,
		"--server-env", "HERALD_REDIS_PREFIX=" + rd.Prefix, "--server-log-level=error",
		"--redis-pid", strconv.Itoa(redisPID(t, rd.Server.Addr())),
		"--subscribers=30", "--messages=6", "--rounds=2", "--pause=100ms", "--send-via=rotate",
		"--per-worker=20", "--dial-concurrency=8"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := measureFanout(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 2 || res.Ready.Connected != 30 || len(res.Ready.NodeConnected) != 2 ||
		res.Ready.NodeConnected[0] != 15 || res.Ready.NodeConnected[1] != 15 {
		t.Fatalf("nodes %v, ready %+v; want 15 subscribers on each of 2 nodes", res.Nodes, res.Ready)
	}
	for _, r := range res.Rounds {
		if r.Expected != 180 || r.Deliveries != 180 || r.Loss != 0 || r.Duplicates != 0 || r.Stray != 0 || r.TimedOut {
			t.Fatalf("round %d: %+v; want 180 deliveries and nothing lost, repeated or stray", r.Round, r)
		}
		if r.Latency.N != 180 || r.RedisCPU < 0 {
			t.Fatalf("round %d: %d latencies, Redis CPU %v", r.Round, r.Latency.N, r.RedisCPU)
		}
		var sched int64
		for i, n := range r.Nodes {
			if n.Subscribers != 15 || n.Deliveries != 90 || n.Loss != 0 || n.Latency.N != 90 || n.PID <= 0 {
				t.Fatalf("round %d node %d: %+v; want 90 deliveries to 15 subscribers", r.Round, i, n)
			}
			if n.CPUSched <= 0 {
				t.Fatalf("round %d node %d: no CPU time measured", r.Round, i)
			}
			sched += int64(n.CPUSched)
		}
		if int64(r.CPUSched) != sched {
			t.Fatalf("round %d: total CPU %v is not the sum of the nodes' %v", r.Round, r.CPUSched, sched)
		}
	}
}

// TestFanoutOnRedisCluster: two Herald nodes on a Redis Cluster of three
// shards (sharded pub/sub), subscribers spread over six channels and so over
// the shards: every subscriber gets its channel's messages, and the CPU of
// the six redis-server processes is summed.
func TestFanoutOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Redis Cluster and two Herald nodes")
	}
	db := pgtest.NewDatabase(t)
	rc := redistest.NewClusterDB(t)
	bin := buildHerald(t)
	var pids []string
	for _, addr := range strings.Split(strings.TrimPrefix(rc.URL, "redis-cluster://"), ",") {
		pids = append(pids, strconv.Itoa(redisPID(t, addr)))
	}
	o, err := parseFanout([]string{"--server-bin", bin, "--nodes=2", "--database-url", db, "--redis-url", rc.URL,
		"--server-env", "HERALD_REDIS_PREFIX=" + rc.Prefix, "--server-log-level=error",
		"--redis-pid", strings.Join(pids, ","), "--channels=6",
		"--subscribers=30", "--messages=12", "--rounds=2", "--pause=100ms", "--send-via=rotate",
		"--per-worker=20", "--dial-concurrency=8"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := measureFanout(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rounds {
		// 30 subscribers, each getting the 2 messages of its channel.
		if r.Expected != 60 || r.Deliveries != 60 || r.Loss != 0 || r.Duplicates != 0 || r.Stray != 0 || r.TimedOut {
			t.Fatalf("round %d: %+v; want 60 deliveries and nothing lost, repeated or stray", r.Round, r)
		}
		if r.RedisCPU <= 0 || r.RedisPerMessage != r.RedisCPU/12 || r.MessagesPerSecond <= 0 {
			t.Fatalf("round %d: Redis CPU %v, %v per message, %v messages/s", r.Round, r.RedisCPU, r.RedisPerMessage, r.MessagesPerSecond)
		}
	}
}

// redisPID asks the Redis at addr for its process id (INFO server).
func redisPID(t *testing.T, addr string) int {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if pid, err := strconv.Atoi(v); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no process_id in INFO server:\n%s", info)
	return 0
}
