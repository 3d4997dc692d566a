package main

// Herald past one Redis: three herald processes on a real PostgreSQL and on
// Redis Sentinel or Redis Cluster (internal/redistest starts them from
// Debian's redis-server), while a Redis primary dies and its replica takes
// over, or while slots move between the cluster's shards.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

// haNodes starts n herald processes on dbURL and the Redis that redisEnv
// names (REDIS_URL, or the list settings), and rc, a client of that Redis.
func haNodes(t *testing.T, n int, dbURL string, redisEnv map[string]string, rc *redis.Client) *clusterNodes {
	t.Helper()
	env := map[string]string{
		"HERALD_ENV":                  "production",
		"JWT_SECRET":                  testSecret,
		"HERALD_API_KEY":              testAPIKey,
		"DATABASE_URL":                dbURL,
		"HERALD_SHUTDOWN_TIMEOUT":     "2s",
		"WS_MAX_CONNECTIONS_PER_USER": "3",
		"HERALD_EVENTS_STREAM":        "herald:events",
	}
	for k, v := range redisEnv {
		env[k] = v
	}
	cn := &clusterNodes{t: t, procs: make([]*proc, n), srv: make([]*server, n), dead: make([]atomic.Bool, n), redis: rc, env: env}
	for i := range n {
		cn.start(i)
	}
	return cn
}

func haClient(t *testing.T, cfg redis.ClientConfig) *redis.Client {
	t.Helper()
	// go-redis's own lines (a dial refused by a killed primary) are noise
	// here; Herald's processes log the outage themselves.
	redis.SetClientLogger(slog.New(slog.DiscardHandler))
	rc, err := redis.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// haClients connects one clusterClient per user, round robin over the
// nodes, each in "room", and waits until every node's subscriptions are in
// place.
func haClients(t *testing.T, ctx context.Context, cn *clusterNodes, users []string) []*clusterClient {
	t.Helper()
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); wg.Wait() })
	joined := make(chan string, 4*len(users))
	var clients []*clusterClient
	for i, u := range users {
		c := &clusterClient{user: u, cn: cn}
		clients = append(clients, c)
		wg.Add(1)
		go func() { defer wg.Done(); c.run(cctx, i%len(cn.procs), joined) }()
	}
	for range clients {
		select {
		case <-joined:
		case <-time.After(20 * time.Second):
			t.Fatal("clients did not all join room")
		}
	}
	for _, c := range clients {
		cn.waitSubscribed("herald:u:"+c.user, 1)
	}
	cn.waitSubscribed("herald:c:room", int64(min(len(users), len(cn.procs))))
	return clients
}

// noteStream creates notifications for the clients' users without pause,
// two producers over disjoint users, each request through the next live
// node, and records the seqs the API acknowledged.
type noteStream struct {
	mu     sync.Mutex
	acked  map[string][]int64
	sent   atomic.Int64
	failed atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startNoteStream(cn *clusterNodes, clients []*clusterClient) *noteStream {
	s := &noteStream{acked: map[string][]int64{}, stop: make(chan struct{})}
	for p := range 2 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-s.stop:
					return
				default:
				}
				var mine []*clusterClient
				for i, c := range clients {
					if i%2 == p {
						mine = append(mine, c)
					}
				}
				user := mine[n%len(mine)].user
				live := cn.live()
				seq, ok := createNotification(client, cn.srv[live[n%len(live)]].addr, user, fmt.Sprintf("p%d-%d", p, n))
				if !ok {
					s.failed.Add(1)
					continue
				}
				s.mu.Lock()
				s.acked[user] = append(s.acked[user], seq)
				s.mu.Unlock()
				s.sent.Add(1)
			}
		}()
	}
	return s
}

// waitMore waits until n more notifications than now were acknowledged.
func (s *noteStream) waitMore(t *testing.T, n int64, what string) {
	t.Helper()
	target := s.sent.Load() + n
	waitFor(t, 60*time.Second, what, func() bool { return s.sent.Load() >= target })
}

func (s *noteStream) end() {
	close(s.stop)
	s.wg.Wait()
}

// checkExactlyOnceInOrder waits until every client received every
// notification the API acknowledged for its user, and checks that none
// came twice or out of seq order.
func checkExactlyOnceInOrder(t *testing.T, clients []*clusterClient, s *noteStream) {
	t.Helper()
	for _, c := range clients {
		s.mu.Lock()
		want := append([]int64(nil), s.acked[c.user]...)
		s.mu.Unlock()
		waitFor(t, 60*time.Second, c.user+"'s acknowledged notifications", func() bool {
			seqs, _ := c.snapshot()
			return containsAll(seqs, want)
		})
	}
	time.Sleep(300 * time.Millisecond) // let a duplicate, if any, arrive
	for _, c := range clients {
		seqs, _ := c.snapshot()
		seen := map[int64]bool{}
		for i, q := range seqs {
			switch {
			case seen[q]:
				t.Errorf("%s received seq %d twice", c.user, q)
			case i > 0 && q < seqs[i-1]:
				t.Errorf("%s received seq %d after %d (index %d of %d)", c.user, q, seqs[i-1], i, len(seqs))
			}
			seen[q] = true
		}
	}
}

// readiness polls a node's /readyz and records each status it answers.
type readiness struct {
	mu   sync.Mutex
	seen map[string]int
	last string
}

// waitAllReady waits until every live node's /readyz says ready.
func waitAllReady(t *testing.T, cn *clusterNodes, d time.Duration, what string) {
	t.Helper()
	waitFor(t, d, what, func() bool {
		for _, i := range cn.live() {
			status, body := cn.srv[i].do("GET", "/readyz", "", nil)
			if status != 200 || !strings.Contains(string(body), `"ready"`) {
				return false
			}
		}
		return true
	})
}

func watchReady(t *testing.T, ctx context.Context, s *server) *readiness {
	r := &readiness{seen: map[string]int{}}
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			resp, err := client.Get("http://" + s.addr + "/readyz")
			if err == nil {
				var body struct {
					Status string `json:"status"`
				}
				json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				r.mu.Lock()
				r.seen[body.Status]++
				r.last = body.Status
				r.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return r
}

func (r *readiness) saw(status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[status] > 0
}

func (r *readiness) now() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// sendDirect sends one message (no seq) through every node to every
// client and waits until each client has each: every subscription is in
// place on every node.
func sendDirect(t *testing.T, cn *clusterNodes, clients []*clusterClient, tag string) {
	t.Helper()
	for _, i := range cn.live() {
		for _, c := range clients {
			cn.srv[i].api("POST", "/api/users/"+c.user+"/messages", fmt.Sprintf(`{"type":"direct","tag":%q,"from":%d}`, tag, i), 200, nil)
		}
	}
	for _, c := range clients {
		waitFor(t, 20*time.Second, c.user+"'s "+tag+" messages from every node", func() bool {
			_, other := c.snapshot()
			n := 0
			for _, o := range other {
				if strings.Contains(o, `"tag":"`+tag+`"`) {
					n++
				}
			}
			return n == len(cn.live())
		})
	}
}

// TestHASentinelFailover: three nodes on a primary watched by Sentinel
// (configured with REDIS_SENTINELS, REDIS_MASTER_NAME and both passwords)
// deliver every acknowledged notification exactly once and in order while
// the primary is killed and the sentinels promote its replica. The nodes
// report degraded meanwhile, follow the new primary, and replay what their
// clients missed; a queued domain event is consumed from the new primary.
func TestHASentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Sentinel set and three herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	set := redistest.NewSentinel(t)
	rc := haClient(t, redis.ClientConfig{Sentinels: set.SentinelAddrs(), MasterName: redistest.MasterName,
		SentinelPassword: set.SentinelPassword, Password: set.Password})
	cn := haNodes(t, 3, dbURL, map[string]string{
		"REDIS_SENTINELS":         strings.Join(set.SentinelAddrs(), ","),
		"REDIS_MASTER_NAME":       redistest.MasterName,
		"REDIS_SENTINEL_PASSWORD": set.SentinelPassword,
		"REDIS_PASSWORD":          set.Password,
	}, rc)
	haFailover(t, cn, func() { set.KillPrimary(t) })
}

// TestHAClusterFailover is TestHASentinelFailover on a Redis Cluster of
// three shards (REDIS_URL=redis-cluster://...): the primary of a shard
// holding users' topics is killed and its replica promoted.
func TestHAClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Redis Cluster and three herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rcl := redistest.NewCluster(t)
	rc := haClient(t, redis.ClientConfig{URL: rcl.URL()})
	cn := haNodes(t, 3, dbURL, map[string]string{"REDIS_URL": rcl.URL()}, rc)
	haFailover(t, cn, func() {
		slot, err := rc.ClusterKeySlot(context.Background(), "herald:u:u1").Result()
		if err != nil {
			t.Fatal(err)
		}
		rcl.KillPrimary(t, int(slot))
	})
}

// haFailover runs the failover scenario on cn: clients on every node, a
// stream of notifications, kill (which kills a primary and returns once a
// replica took over) in the middle of it.
func haFailover(t *testing.T, cn *clusterNodes, kill func()) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	clients := haClients(t, ctx, cn, users)
	sendDirect(t, cn, clients, "before")
	ready := watchReady(t, ctx, cn.srv[0])
	waitFor(t, 10*time.Second, "node 0 ready", func() bool { return ready.now() == "ready" })

	stream := startNoteStream(cn, clients)
	stream.waitMore(t, 30, "the first notifications")
	start := time.Now()
	kill()
	promoted := time.Since(start)
	waitAllReady(t, cn, 60*time.Second, "every node ready again")
	followed := time.Since(start)
	stream.waitMore(t, 30, "notifications after the failover")
	stream.end()
	t.Logf("replica promoted %v after the kill, every node ready %v after it; %d notifications acknowledged, %d requests not acknowledged",
		promoted.Round(time.Millisecond), followed.Round(time.Millisecond), stream.sent.Load(), stream.failed.Load())
	if !ready.saw("degraded") {
		t.Error("node 0's /readyz never said degraded while the primary was gone")
	}
	checkExactlyOnceInOrder(t, clients, stream)
	sendDirect(t, cn, clients, "after")

	// A domain event queued on the new primary is consumed once.
	ev := `{"id":"evt-ha","event":"booking:confirmed","data":{"userId":"u3","vehicleName":"Van","bookingId":1}}`
	before, _ := clients[3].snapshot()
	// The producer retries, as one must: its client may still know the
	// killed primary for a moment.
	waitFor(t, 20*time.Second, "the event to be queued", func() bool {
		return cn.redis.XAdd(context.Background(), &goredis.XAddArgs{Stream: "herald:events", Values: map[string]any{redis.EventField: ev}}).Err() == nil
	})
	waitFor(t, 20*time.Second, "the queued event's notification", func() bool {
		seqs, _ := clients[3].snapshot()
		return len(seqs) == len(before)+1
	})
}

// usersOnSlots returns n user ids, named after tag, whose topics hash to a
// slot keep accepts, asking Redis (CLUSTER KEYSLOT).
func usersOnSlots(t *testing.T, rc *redis.Client, tag string, n int, keep func(int) bool) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < n; i++ {
		u := fmt.Sprintf("%s%d", tag, i)
		slot, err := rc.ClusterKeySlot(context.Background(), "herald:u:"+u).Result()
		if err != nil {
			t.Fatal(err)
		}
		if keep(int(slot)) {
			out = append(out, u)
		}
	}
	return out
}

// TestHAClusterReshard moves slots holding half the users' topics to
// another shard with redis-cli --cluster reshard (keys with MIGRATE) while
// notifications stream to them through three nodes on Redis Cluster
// (REDIS_CLUSTER_ADDRS): every acknowledged notification arrives exactly
// once and in order, no node goes degraded, and every subscription works
// after.
func TestHAClusterReshard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Redis Cluster and three herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rcl := redistest.NewCluster(t)
	rc := haClient(t, redis.ClientConfig{ClusterAddrs: rcl.Addrs()})
	owners := rcl.Owners(t)
	prim := rcl.Primaries(t)
	from, to := prim[0], prim[1]
	var fromSlots []int
	for s, o := range owners {
		if o == from {
			fromSlots = append(fromSlots, s)
		}
	}
	const move = 1500 // redis-cli moves the lowest slots of the source
	moving := func(s int) bool { return owners[s] == from && s <= fromSlots[move-1] }
	users := append(usersOnSlots(t, rc, "mv", 3, moving), usersOnSlots(t, rc, "st", 3, func(s int) bool { return !moving(s) })...)

	cn := haNodes(t, 3, dbURL, map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(rcl.Addrs(), ",")}, rc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clients := haClients(t, ctx, cn, users)
	// A node listens before its broker has subscribed, and says degraded
	// until it has: watch only from when every node is ready.
	waitAllReady(t, cn, 20*time.Second, "every node ready")
	var readies []*readiness
	for _, s := range cn.srv {
		readies = append(readies, watchReady(t, ctx, s))
	}
	stream := startNoteStream(cn, clients)
	stream.waitMore(t, 30, "the first notifications")
	start := time.Now()
	moved := rcl.Reshard(t, from, to, move)
	t.Logf("moved slots %d-%d in %v", moved[0], moved[len(moved)-1], time.Since(start).Round(time.Millisecond))
	stream.waitMore(t, 30, "notifications after the resharding")
	stream.end()
	checkExactlyOnceInOrder(t, clients, stream)
	for i, r := range readies {
		if r.saw("degraded") {
			t.Errorf("node %d said degraded during the resharding; its subscriptions should have moved, not failed", i)
		}
	}
	for _, u := range users[:3] {
		slot, _ := rc.ClusterKeySlot(context.Background(), "herald:u:"+u).Result()
		if o := rcl.Owners(t)[slot]; o != to {
			t.Fatalf("%s's slot %d was not moved", u, slot)
		}
	}
	sendDirect(t, cn, clients, "after")
	t.Logf("%d notifications acknowledged, %d requests not acknowledged", stream.sent.Load(), stream.failed.Load())
}

// TestHAClusterCapPresenceAndRevocation: on Redis Cluster the per-user cap
// holds across nodes, presence and stats see every node, and a logout on
// one node closes the user's socket on another (the close order crosses on
// the user's sharded topic).
func TestHAClusterCapPresenceAndRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Redis Cluster and two herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rcl := redistest.NewClusterDB(t) // the shared cluster, under the default prefix: fresh keys per test below
	rc := haClient(t, redis.ClientConfig{URL: rcl.URL})
	const account, password, accountID = "ops", "a long enough password", "svc-ops"
	var out, errOut syncBuffer
	if err := run(context.Background(), []string{"user", "add", "--user-id", accountID, account}, mapEnv(map[string]string{
		"DATABASE_URL": dbURL, "HERALD_PASSWORD": password}), &out, &errOut); err != nil {
		t.Fatalf("herald user add: %v\n%s", err, errOut.String())
	}
	prefix := rcl.Prefix
	cn := haNodes(t, 2, dbURL, map[string]string{"REDIS_URL": rcl.URL, "HERALD_REDIS_PREFIX": prefix}, rc)
	n0, n1 := cn.srv[0], cn.srv[1]

	// The cap: three connections of one user over two nodes, a fourth refused.
	n0.connect("capped")
	n1.connect("capped")
	n1.connect("capped")
	refused := dial(t, n0.wsURL("capped", token(t, testSecret, "capped")))
	if code, reason, _ := refused.closeStatus(); code != 1013 || reason != "Per-user connection limit reached" {
		t.Fatalf("4th connection of one user across nodes: close %d %q, want 1013", code, reason)
	}
	var presence struct {
		Online bool     `json:"online"`
		Nodes  []string `json:"nodes"`
	}
	n1.api("GET", "/api/users/capped/presence", nil, 200, &presence)
	if !presence.Online || !slices.Equal(presence.Nodes, []string{"n0", "n1"}) {
		t.Fatalf("presence %+v, want online on n0 and n1", presence)
	}
	waitFor(t, 20*time.Second, "both nodes in the stats", func() bool {
		var st struct {
			TotalConnections int `json:"totalConnections"`
			Nodes            []struct {
				Node string `json:"node"`
			} `json:"nodes"`
		}
		status, body := n0.do("GET", "/api/stats", testAPIKey, nil)
		return status == 200 && json.Unmarshal(body, &st) == nil && len(st.Nodes) == 2 && st.TotalConnections == 3
	})

	// Revocation: log in and out on n0; the socket on n1 closes.
	status, body := n0.do("POST", "/auth/login", "", map[string]string{"username": account, "password": password})
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if status != 200 || json.Unmarshal(body, &login) != nil || login.AccessToken == "" {
		t.Fatalf("login = %d %s", status, body)
	}
	sock := dial(t, n1.wsURL(accountID, login.AccessToken))
	sock.expect("connected")
	cn.waitSubscribed(prefix+"u:"+accountID, 1)
	if status, body := n0.do("POST", "/auth/logout", login.AccessToken, nil); status != 204 {
		t.Fatalf("logout on node 0 = %d %s", status, body)
	}
	if code, reason, _ := sock.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) || reason != "Logged out" {
		t.Errorf("socket on node 1 after logout on node 0: %d %q, want 4002 Logged out", code, reason)
	}
}
