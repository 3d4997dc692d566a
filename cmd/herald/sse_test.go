package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/internal/ssetest"
)

// openSSE opens user's stream on s, resuming after lastEventID when not "".
func (s *server) openSSE(user, lastEventID string) *ssetest.Stream {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+token(s.t, s.secret, user))
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	return ssetest.Open(s.t, &http.Client{}, req)
}

// TestSSEWithCurl shows a plain curl -N, with the design document's query
// token, receiving the greeting and a notification from a real herald.
func TestSSEWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := "http://" + p.addr + "/sse?userId=alice&token=" + token(t, testSecret, "alice")
	cmd := exec.CommandContext(ctx, curl, "-sN", u)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	await := func(prefix string) string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("curl ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-timeout:
				t.Fatalf("curl printed no %q within 10s", prefix)
			}
		}
	}
	await("event: connected")
	if l := await("data: "); !strings.Contains(l, `"userId":"alice"`) {
		t.Fatalf("greeting %q", l)
	}
	n := s.notify("alice", "via curl")
	await("event: notification:new")
	if l := await("id: "); l != "id: "+strconv.FormatInt(n.Seq, 10) {
		t.Fatalf("id line %q, want seq %d", l, n.Seq)
	}
	if l := await("data: "); !strings.Contains(l, `"title":"via curl"`) {
		t.Fatalf("notification %q", l)
	}
}

// TestSSECountedByTransport shows an open stream counted as SSE beside a
// WebSocket, in herald_transport_connections and in /api/stats.
func TestSSECountedByTransport(t *testing.T) {
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	st := s.openSSE("alice", "")
	st.Next()
	s.connect("bob")
	var stats struct {
		TotalConnections int            `json:"totalConnections"`
		Transports       map[string]int `json:"transports"`
	}
	s.api("GET", "/api/stats", nil, 200, &stats)
	if stats.TotalConnections != 2 || stats.Transports["sse"] != 1 || stats.Transports["websocket"] != 1 {
		t.Fatalf("stats %+v, want one connection of each transport", stats)
	}
	_, body := s.do("GET", "/metrics", s.apiKey, nil)
	for _, want := range []string{`herald_transport_connections{transport="sse"} 1`, `herald_transport_connections{transport="websocket"} 1`, "herald_sse_connects_total 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestSSEResumesAcrossRestarts kills herald mid-stream, creates nothing it
// could lose while it is down but what was committed before, restarts it,
// and resumes with Last-Event-ID as EventSource does: every notification
// arrives once, in order, nothing is lost or duplicated.
func TestSSEResumesAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	p1 := startProc(t, procEnv(db))
	s1 := newServer(t, p1.addr, testSecret, testAPIKey)
	st := s1.openSSE("alice", "")
	last := st.Next().ID // the greeting's id: the resume point
	var want []int64
	for i := 0; i < 3; i++ {
		n := s1.notify("alice", fmt.Sprintf("seen %d", i))
		ev := st.Until("notification:new")
		if ev.ID != strconv.FormatInt(n.Seq, 10) {
			t.Fatalf("event id %q, want %d", ev.ID, n.Seq)
		}
		last = ev.ID
	}
	// Committed but maybe not streamed before the kill.
	for i := 0; i < 5; i++ {
		want = append(want, s1.notify("alice", fmt.Sprintf("missed %d", i)).Seq)
	}
	p1.signal(syscall.SIGKILL)
	p1.wait(10 * time.Second)
	// What the old stream got before it died counts as seen.
	for {
		select {
		case ev, ok := <-st.Events():
			if !ok {
				goto dead
			}
			if ev.Name == "notification:new" {
				last = ev.ID
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the stream did not end with the process")
		}
	}
dead:
	p2 := startProc(t, procEnv(db))
	s2 := newServer(t, p2.addr, testSecret, testAPIKey)
	back := s2.openSSE("alice", last)
	if h := back.Next(); h.Name != "connected" || h.ID != last {
		t.Fatalf("greeting %+v, want id %s", h, last)
	}
	lastN, _ := strconv.ParseInt(last, 10, 64)
	for _, seq := range want {
		if seq <= lastN {
			continue
		}
		if ev := back.Next(); ev.Name != "notification:new" || ev.ID != strconv.FormatInt(seq, 10) {
			t.Fatalf("replayed %+v, want seq %d", ev, seq)
		}
	}
	if ev := back.Next(); ev.Name != "resumed" {
		t.Fatalf("after the replay %+v, want resumed", ev)
	}
	live := s2.notify("alice", "live")
	if ev := back.Until("notification:new"); ev.ID != strconv.FormatInt(live.Seq, 10) {
		t.Fatalf("live %+v, want seq %d", ev, live.Seq)
	}
}

// TestSSECluster shows streams on two nodes of a cluster (PostgreSQL and
// Redis) receiving what either node sends: a notification created on one
// reaches the user's stream on the other, and a channel message both.
func TestSSECluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and two herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rsrv := redistest.NewServer(t)
	cn := &clusterNodes{t: t, procs: make([]*proc, 2), srv: make([]*server, 2), dead: make([]atomic.Bool, 2),
		env: map[string]string{
			"HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey,
			"DATABASE_URL": dbURL, "REDIS_URL": "redis://" + rsrv.Addr() + "/0", "HERALD_SHUTDOWN_TIMEOUT": "2s",
		}}
	cn.start(0)
	cn.start(1)
	open := func(node int, user string) *ssetest.Stream {
		s := cn.srv[node]
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/sse?channel=room", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, testSecret, user))
		st := ssetest.Open(t, &http.Client{}, req)
		st.Until("subscribed")
		return st
	}
	a, b := open(0, "alice"), open(1, "bob")

	// Retried until the broker's subscriptions for the new streams are live:
	// each attempt is told apart by its own marker.
	attempt := 0
	arrives := func(st *ssetest.Stream, send func(mark string)) {
		t.Helper()
		waitFor(t, 10*time.Second, "a message across nodes", func() bool {
			attempt++
			mark := "m" + strconv.Itoa(attempt)
			send(mark)
			for {
				select {
				case ev := <-st.Events():
					if strings.Contains(ev.Raw, `"`+mark+`"`) {
						return true
					}
				case <-time.After(300 * time.Millisecond):
					return false
				}
			}
		})
	}
	arrives(a, func(mark string) { cn.srv[1].notify("alice", mark) })
	arrives(b, func(mark string) { cn.srv[0].notify("bob", mark) })
	for _, st := range []*ssetest.Stream{a, b} {
		arrives(st, func(mark string) {
			cn.srv[0].api("POST", "/api/channels/room/messages", `{"type":"room","text":"`+mark+`"}`, 200, nil)
		})
	}

	// Either node's /api/stats splits the cluster's connections by
	// transport, from the nodes' heartbeats: two streams and a socket.
	cn.srv[0].connect("carol")
	var stats struct {
		TotalConnections int            `json:"totalConnections"`
		Transports       map[string]int `json:"transports"`
	}
	waitFor(t, 15*time.Second, "the cluster's stats to count both transports", func() bool {
		cn.srv[1].api("GET", "/api/stats", nil, 200, &stats)
		return stats.TotalConnections == 3 && stats.Transports["sse"] == 2 && stats.Transports["websocket"] == 1
	})
}
