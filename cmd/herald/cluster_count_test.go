package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

// countTab is one tab of a user, on one node: it keeps the count of the
// greatest version it received, as docs/protocol.md asks of clients, and
// records whether the server ever sent it a version that was not greater
// than one before (which the server promises not to do).
type countTab struct {
	mu      sync.Mutex
	count   int
	version int64
	stale   []string // count messages that went back
	counts  int      // count messages received
}

func (tb *countTab) note(count int, version int64, greeting bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.counts++
	if !greeting && version <= tb.version {
		tb.stale = append(tb.stale, fmt.Sprintf("version %d (count %d) after %d", version, count, tb.version))
		return
	}
	tb.count, tb.version = count, version
}

func (tb *countTab) get() (int, int64, []string, int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.count, tb.version, append([]string(nil), tb.stale...), tb.counts
}

// read follows conn until ctx ends, noting counts and, for the tab that
// marks reads over its socket, queueing notification ids.
func (tb *countTab) read(ctx context.Context, conn *websocket.Conn, ids chan<- string) {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type          string `json:"type"`
			Count         int    `json:"count"`
			Version       int64  `json:"version"`
			UnreadCount   int    `json:"unreadCount"`
			UnreadVersion int64  `json:"unreadVersion"`
			Notification  struct {
				ID string `json:"id"`
			} `json:"notification"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "connected":
			tb.note(m.UnreadCount, m.UnreadVersion, true)
		case "notification:unread_count":
			tb.note(m.Count, m.Version, false)
		case "notification:new":
			if ids != nil {
				select {
				case ids <- m.Notification.ID:
				default:
				}
			}
		}
	}
}

// TestClusterUnreadCountsConverge: one user has a tab on each of two nodes
// (real PostgreSQL, real redis-server, two herald processes). Creates and
// reads go through both nodes at once, interleaved: over the API, over REST
// with the user's token and over each tab's socket. Both tabs must end on the
// count and version the database holds, and neither may ever be sent a count
// older than one it already had, though the nodes publish concurrently.
func TestClusterUnreadCountsConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and two herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rsrv := redistest.NewServer(t)
	redisURL := "redis://" + rsrv.Addr() + "/0"
	rc, err := redis.NewClient(redis.ClientConfig{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	cn := &clusterNodes{t: t, procs: make([]*proc, 2), srv: make([]*server, 2), dead: make([]atomic.Bool, 2), redis: rc,
		env: map[string]string{
			"HERALD_ENV":              "production",
			"JWT_SECRET":              testSecret,
			"HERALD_API_KEY":          testAPIKey,
			"DATABASE_URL":            dbURL,
			"REDIS_URL":               redisURL,
			"HERALD_SHUTDOWN_TIMEOUT": "2s",
			"WS_RATE_LIMIT":           "1000",
			"WS_RATE_BURST":           "1000",
		}}
	for i := range 2 {
		cn.start(i)
	}
	const user = "quinn"
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	t.Cleanup(func() { cancel(); readers.Wait() })

	tabs := make([]*countTab, 2)
	conns := make([]*websocket.Conn, 2)
	socketIDs := make([]chan string, 2)
	for i, s := range cn.srv {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		conn, _, err := websocket.Dial(dctx, s.wsURL(user, token(t, testSecret, user)), nil)
		dcancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		tabs[i], conns[i], socketIDs[i] = &countTab{}, conn, make(chan string, 256)
		readers.Go(func() { tabs[i].read(ctx, conn, socketIDs[i]) })
	}
	cn.waitSubscribed("herald:u:"+user, 2)

	userTok := token(t, testSecret, user)
	var (
		wg      sync.WaitGroup
		created = make(chan string, 1024)
		marked  atomic.Int32
	)
	for w := range 4 {
		s := cn.srv[w%2]
		wg.Go(func() {
			for i := range 30 {
				var n notification
				s.api("POST", "/api/notifications", map[string]any{"userId": user, "type": "t", "title": fmt.Sprintf("%d-%d", w, i), "message": "m"}, 201, &n)
				if i%3 == 0 {
					created <- n.ID
				}
			}
		})
	}
	// Reads through both nodes: REST with the user's token, and mark_read on
	// each tab's socket for notifications that tab was pushed.
	for w := range 2 {
		s := cn.srv[w]
		wg.Go(func() {
			for range 15 {
				id := <-created
				status, body := s.do("POST", "/api/notifications/"+id+"/read", userTok, nil)
				if status != http.StatusOK {
					t.Errorf("mark read on n%d = %d %s", w, status, body)
					return
				}
				marked.Add(1)
			}
		})
		wg.Go(func() {
			for range 10 {
				var id string
				select {
				case id = <-socketIDs[w]:
				case <-time.After(10 * time.Second):
					t.Errorf("tab %d was pushed no notification to mark", w)
					return
				}
				msg, _ := json.Marshal(map[string]string{"type": "mark_read", "notificationId": id})
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				err := conns[w].Write(wctx, websocket.MessageText, msg)
				wcancel()
				if err != nil {
					t.Errorf("mark_read on tab %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The database's count, through each node once the reads have landed.
	var want struct {
		Count   int   `json:"count"`
		Version int64 `json:"version"`
	}
	waitFor(t, 15*time.Second, "the reads over the sockets to commit", func() bool {
		status, body := cn.srv[0].do("GET", "/api/notifications/unread-count", userTok, nil)
		if status != http.StatusOK || json.Unmarshal(body, &want) != nil {
			return false
		}
		// 120 created; 30 read over REST; up to 20 over the sockets (a tab may
		// have picked one already read).
		return want.Count <= 120-30 && want.Count >= 120-30-20 && settled(cn, userTok, want.Version)
	})
	for i, tb := range tabs {
		waitFor(t, 15*time.Second, fmt.Sprintf("tab %d to reach count %d version %d", i, want.Count, want.Version), func() bool {
			c, v, _, _ := tb.get()
			return c == want.Count && v == want.Version
		})
		_, _, stale, n := tb.get()
		if len(stale) > 0 {
			t.Errorf("tab on n%d was sent %d stale counts of %d: %v", i, len(stale), n, stale)
		}
		t.Logf("tab on n%d: %d count messages, ended on %d at version %d", i, n, want.Count, want.Version)
	}
	if want.Version < int64(120+marked.Load()) {
		t.Errorf("version %d after %d creates and %d REST reads: each change must add one", want.Version, 120, marked.Load())
	}
}

// settled reports whether the count's version stays at v for a moment on
// both nodes: the socket reads have all committed.
func settled(cn *clusterNodes, tok string, v int64) bool {
	time.Sleep(200 * time.Millisecond)
	for _, s := range cn.srv {
		status, body := s.do("GET", "/api/notifications/unread-count", tok, nil)
		var got struct {
			Version int64 `json:"version"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Version != v {
			return false
		}
	}
	return true
}
