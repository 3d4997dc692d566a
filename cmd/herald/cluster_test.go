package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

// TestClusterRefusesSQLite: REDIS_URL without DATABASE_URL would run nodes
// on separate SQLite files, each with its own inbox; the node refuses to start.
func TestClusterRefusesSQLite(t *testing.T) {
	env := procEnv(t.TempDir() + "/herald.db")
	env["REDIS_URL"] = "redis://127.0.0.1:1/0"
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, mapEnv(env), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("serve with REDIS_URL on SQLite = %v, want a refusal naming DATABASE_URL", err)
	}
	env["DATABASE_URL"] = "postgres://127.0.0.1:1/x"
	delete(env, "JWT_SECRET")
	env["HERALD_ENV"] = "development"
	if err := run(context.Background(), []string{"serve"}, mapEnv(env), &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Fatalf("a cluster node with a generated secret = %v, want a refusal naming JWT_SECRET", err)
	}
}

// clusterNodes is three herald processes on one PostgreSQL and one Redis.
type clusterNodes struct {
	t     *testing.T
	env   map[string]string
	procs []*proc
	srv   []*server
	dead  []atomic.Bool
	redis *redis.Client
}

// startClusterNode runs node i and waits until it serves.
func (cn *clusterNodes) start(i int) {
	t := cn.t
	t.Helper()
	env := map[string]string{"HERALD_NODE_ID": fmt.Sprintf("n%d", i)}
	for k, v := range cn.env {
		env[k] = v
	}
	for attempt := 1; ; attempt++ {
		p, err := launch(t, strconv.Itoa(freePort(t)), env, fmt.Sprintf("node n%d", i))
		if err != nil {
			t.Fatal(err)
		}
		listening := fmt.Sprintf(`msg="herald listening" node=n%d addr=%s`, i, p.addr)
		if !waitListening(t, p, listening) {
			if attempt < 3 && strings.Contains(p.stderr.String(), "address already in use") {
				continue // the port was taken meanwhile: another one
			}
			t.Fatalf("node n%d exited: %v\n%s", i, p.err, p.stderr.String())
		}
		cn.procs[i] = p
		cn.srv[i] = newServer(t, p.addr, testSecret, testAPIKey)
		return
	}
}

// waitListening waits until p logs line, and reports false if it exits first.
func waitListening(t *testing.T, p *proc, line string) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), line) {
		select {
		case <-p.done:
			return false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald did not start within 20s:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitSubscribed waits until Redis reports n subscribers on channel.
func (cn *clusterNodes) waitSubscribed(channel string, n int64) {
	cn.t.Helper()
	waitFor(cn.t, 10*time.Second, fmt.Sprintf("%d node(s) subscribed to %s", n, channel), func() bool {
		got, err := redistest.NumSub(context.Background(), cn.redis.UniversalClient, channel)
		return err == nil && got == n
	})
}

// live returns the indexes of the nodes not killed.
func (cn *clusterNodes) live() []int {
	var out []int
	for i := range cn.procs {
		if !cn.dead[i].Load() {
			out = append(out, i)
		}
	}
	return out
}

// clusterClient is one user's connection that follows the cluster: when its
// node goes away it reconnects to another with ?since= the last seq it saw,
// as the protocol asks of clients.
type clusterClient struct {
	user string
	cn   *clusterNodes

	mu       sync.Mutex
	node     int
	seqs     []int64  // notification:new seqs, in arrival order
	other    []string // every other message's payload
	conn     *websocket.Conn
	connects int
}

func (c *clusterClient) lastSeq() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seqs) == 0 {
		return 0
	}
	return c.seqs[len(c.seqs)-1]
}

// run connects to node first, then to the next live node whenever the
// connection ends, until ctx ends. subscribed is told each time the client
// joined "room".
func (c *clusterClient) run(ctx context.Context, first int, joined chan<- string) {
	node := first
	for ctx.Err() == nil {
		s := c.cn.srv[node]
		extra := []string{}
		if c.connects > 0 {
			extra = []string{"since", strconv.FormatInt(c.lastSeq(), 10)}
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, _, err := websocket.Dial(dctx, s.wsURL(c.user, token(c.cn.t, testSecret, c.user), extra...), nil)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.conn, c.node = conn, node
			c.connects++
			c.mu.Unlock()
			conn.SetReadLimit(1 << 20)
			c.read(ctx, conn, joined)
			conn.CloseNow()
		}
		if ctx.Err() != nil {
			return
		}
		live := c.cn.live()
		node = live[(indexOf(live, node)+1)%len(live)]
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// read records what conn receives until it ends.
func (c *clusterClient) read(ctx context.Context, conn *websocket.Conn, joined chan<- string) {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type         string `json:"type"`
			Notification struct {
				Seq int64 `json:"seq"`
			} `json:"notification"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "connected":
			sub, _ := json.Marshal(map[string]string{"type": "subscribe", "channel": "room"})
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn.Write(wctx, websocket.MessageText, sub)
			cancel()
		case "subscribed":
			select {
			case joined <- c.user:
			default:
			}
		case "notification:new":
			c.mu.Lock()
			c.seqs = append(c.seqs, m.Notification.Seq)
			c.mu.Unlock()
		case "notification:unread_count", "resumed", "pong":
		default:
			c.mu.Lock()
			c.other = append(c.other, string(data))
			c.mu.Unlock()
		}
	}
}

func (c *clusterClient) snapshot() (seqs []int64, other []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.seqs...), append([]string(nil), c.other...)
}

// TestClusterThreeNodes runs three herald processes on a real PostgreSQL and
// a real Redis with clients spread over them. Messages sent through each node
// reach users on every node; then, in the middle of a stream of notifications,
// one node is killed with SIGKILL and Redis is stopped for a few seconds:
// every notification the API acknowledged reaches each client of its user
// exactly once, in seq order.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and three herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rsrv := redistest.NewServer(t)
	redisURL := "redis://" + rsrv.Addr() + "/0"
	rc, err := redis.NewClient(redis.ClientConfig{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })

	cn := &clusterNodes{t: t, procs: make([]*proc, 3), srv: make([]*server, 3), dead: make([]atomic.Bool, 3), redis: rc,
		env: map[string]string{
			"HERALD_ENV":                  "production",
			"JWT_SECRET":                  testSecret,
			"HERALD_API_KEY":              testAPIKey,
			"DATABASE_URL":                dbURL,
			"REDIS_URL":                   redisURL,
			"HERALD_REDIS_PREFIX":         "herald:",
			"HERALD_SHUTDOWN_TIMEOUT":     "2s",
			"WS_MAX_CONNECTIONS_PER_USER": "3",
			"HERALD_EVENTS_STREAM":        "herald:events",
		}}
	for i := range 3 {
		cn.start(i)
	}

	// Six users, two per node, each in "room".
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	joined := make(chan string, 64)
	var clients []*clusterClient
	for i := range 6 {
		c := &clusterClient{user: fmt.Sprintf("u%d", i), cn: cn}
		clients = append(clients, c)
		wg.Add(1)
		go func() { defer wg.Done(); c.run(ctx, i%3, joined) }()
	}
	for range clients {
		select {
		case <-joined:
		case <-time.After(10 * time.Second):
			t.Fatal("clients did not all join room")
		}
	}
	for _, c := range clients {
		cn.waitSubscribed("herald:u:"+c.user, 1)
	}
	cn.waitSubscribed("herald:c:room", 3)

	// Phase 1: each node sends to every user, to the room, and broadcasts.
	for i, s := range cn.srv {
		for _, c := range clients {
			s.api("POST", "/api/users/"+c.user+"/messages", fmt.Sprintf(`{"type":"direct","from":%d}`, i), 200, nil)
		}
		s.api("POST", "/api/channels/room/messages", fmt.Sprintf(`{"type":"room","from":%d}`, i), 200, nil)
		s.api("POST", "/api/broadcast?exclude=u0", fmt.Sprintf(`{"type":"all","from":%d}`, i), 200, nil)
	}
	for _, c := range clients {
		want := []string{}
		for i := range 3 {
			want = append(want, fmt.Sprintf(`{"type":"direct","from":%d}`, i), fmt.Sprintf(`{"type":"room","from":%d}`, i))
			if c.user != "u0" {
				want = append(want, fmt.Sprintf(`{"type":"all","from":%d}`, i))
			}
		}
		waitFor(t, 10*time.Second, c.user+"'s messages from every node", func() bool {
			_, other := c.snapshot()
			return len(other) >= len(want)
		})
		time.Sleep(50 * time.Millisecond) // let a duplicate, if any, arrive
		_, other := c.snapshot()
		if !sameSet(other, want) {
			t.Fatalf("%s received %v, want each of %v once", c.user, other, want)
		}
	}

	// A domain event queued in the stream is handled by one node, once.
	ev := `{"id":"evt-1","event":"booking:confirmed","data":{"userId":"u1","vehicleName":"Van","bookingId":1}}`
	if err := rc.XAdd(context.Background(), &goredis.XAddArgs{Stream: "herald:events", Values: map[string]any{redis.EventField: ev}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the queued event's notification", func() bool {
		seqs, _ := clients[1].snapshot()
		return len(seqs) == 1
	})
	waitFor(t, 10*time.Second, "the stream entry to be acknowledged", func() bool {
		p, err := rc.XPending(context.Background(), "herald:events", "herald").Result()
		return err == nil && p.Count == 0
	})

	// The per-user cap holds across nodes: a fourth connection is refused on
	// a node where the user has only one.
	for i := range 3 {
		cn.srv[i].connect("capped")
	}
	refused := dial(t, cn.srv[0].wsURL("capped", token(t, testSecret, "capped")))
	if code, reason, _ := refused.closeStatus(); code != 1013 || reason != "Per-user connection limit reached" {
		t.Fatalf("4th connection of one user across nodes: close %d %q, want 1013 Per-user connection limit reached", code, reason)
	}

	// Phase 2: a stream of notifications, two producers over disjoint
	// users, each request to the next live node; meanwhile node 2 is killed
	// and Redis stops for a while.
	var (
		ackMu  sync.Mutex
		acked  = map[string][]int64{}
		sent   atomic.Int64
		failed atomic.Int64 // requests not acknowledged
		stop   = make(chan struct{})
		prodWG sync.WaitGroup
	)
	for p := range 2 {
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				user := clients[p+2*(n%3)].user
				live := cn.live()
				node := live[n%len(live)]
				seq, ok := createNotification(client, cn.srv[node].addr, user, fmt.Sprintf("p%d-%d", p, n))
				if !ok {
					failed.Add(1)
				}
				if ok {
					ackMu.Lock()
					acked[user] = append(acked[user], seq)
					ackMu.Unlock()
					sent.Add(1)
				}
			}
		}()
	}
	waitFor(t, 15*time.Second, "the first notifications", func() bool { return sent.Load() >= 30 })
	cn.dead[2].Store(true)
	cn.procs[2].cmd.Process.Kill() // SIGKILL, in the middle of the stream
	after := sent.Load()
	waitFor(t, 15*time.Second, "notifications after the kill", func() bool { return sent.Load() >= after+20 })
	beforeOutage := sent.Load()
	rsrv.Stop(t)
	time.Sleep(3 * time.Second) // notifications keep being accepted meanwhile
	during := sent.Load()
	rsrv.Start(t)
	waitFor(t, 15*time.Second, "notifications after Redis came back", func() bool { return sent.Load() >= during+30 })
	close(stop)
	prodWG.Wait()
	t.Logf("%d notifications acknowledged: %d before the kill, %d while Redis was down, %d after; %d requests not acknowledged",
		sent.Load(), after, during-beforeOutage, sent.Load()-during, failed.Load())
	if during-beforeOutage == 0 {
		t.Fatal("no notification was acknowledged while Redis was down")
	}

	for _, c := range clients {
		ackMu.Lock()
		want := append([]int64(nil), acked[c.user]...)
		ackMu.Unlock()
		waitFor(t, 20*time.Second, c.user+"'s acknowledged notifications", func() bool {
			seqs, _ := c.snapshot()
			return containsAll(seqs, want)
		})
	}
	time.Sleep(200 * time.Millisecond) // let a duplicate, if any, arrive
	for _, c := range clients {
		seqs, _ := c.snapshot()
		seen := map[int64]bool{}
		for i, s := range seqs {
			switch {
			case seen[s]:
				t.Errorf("%s received seq %d twice", c.user, s)
			case i > 0 && s < seqs[i-1]:
				t.Errorf("%s received seq %d after %d (around index %d of %d)", c.user, s, seqs[i-1], i, len(seqs))
			}
			seen[s] = true
		}
	}
	for _, i := range []int{2, 5} { // the users of the killed node moved
		c := clients[i]
		c.mu.Lock()
		connects := c.connects
		c.mu.Unlock()
		if connects < 2 {
			t.Errorf("%s connected %d times; want a reconnect after its node died", c.user, connects)
		}
	}
}

// createNotification creates one notification through addr's API and
// returns its seq, and whether the API acknowledged it with a 2xx.
func createNotification(client *http.Client, addr, user, title string) (int64, bool) {
	body, _ := json.Marshal(map[string]string{"userId": user, "type": "test", "title": title, "message": "m"})
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/notifications", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		time.Sleep(20 * time.Millisecond) // a dead node or Redis-less moment: next one
		return 0, false
	}
	defer resp.Body.Close()
	var n notification
	if resp.StatusCode/100 != 2 || json.NewDecoder(resp.Body).Decode(&n) != nil || n.Seq <= 0 {
		return 0, false
	}
	return n.Seq, true
}

func containsAll(have, want []int64) bool {
	set := make(map[int64]bool, len(have))
	for _, s := range have {
		set[s] = true
	}
	for _, s := range want {
		if !set[s] {
			return false
		}
	}
	return true
}

// sameSet reports whether got holds each of want exactly once and nothing else.
func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	count := map[string]int{}
	for _, s := range want {
		count[s]++
	}
	for _, s := range got {
		count[s]--
		if count[s] < 0 {
			return false
		}
	}
	return true
}
