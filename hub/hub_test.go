package hub_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
)

// conn is a recording herald.Conn; full makes it refuse like a slow client.
type conn struct {
	user string
	got  atomic.Int64
	full bool
}

func (c *conn) UserID() string { return c.user }
func (c *conn) Send(*herald.Message) bool {
	if c.full {
		return false
	}
	c.got.Add(1)
	return true
}

func msg(kind herald.AudienceKind, name, except string) *herald.Message {
	return &herald.Message{To: herald.Audience{Kind: kind, Name: name, Except: except}, Payload: []byte(`{}`)}
}

func TestIndexes(t *testing.T) {
	h := hub.New(hub.Config{})
	a1, a2, b := &conn{user: "a"}, &conn{user: "a"}, &conn{user: "b"}
	for _, c := range []*conn{a1, a2, b} {
		if err := h.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	h.Subscribe(a1, "news")
	h.Subscribe(b, "news")
	h.Subscribe(b, "news") // twice is harmless
	if n := h.Deliver(msg(herald.ToUser, "a", "")); n != 2 {
		t.Errorf("to user a: %d", n)
	}
	if n := h.Deliver(msg(herald.ToChannel, "news", "")); n != 2 {
		t.Errorf("to news: %d", n)
	}
	if n := h.Deliver(msg(herald.ToAll, "", "a")); n != 1 {
		t.Errorf("all except a: %d", n)
	}
	if n := h.Deliver(msg(herald.ToChannel, "nobody", "")); n != 0 {
		t.Errorf("empty channel: %d", n)
	}
	st := h.Stats()
	if st.TotalConnections != 3 || st.TotalUsers != 2 || st.ChannelCounts["news"] != 2 {
		t.Errorf("stats %+v", st)
	}
	if !h.Unsubscribe(a1, "news") || h.Unsubscribe(a1, "news") {
		t.Error("unsubscribe should report membership once")
	}
	h.Unregister(b)
	h.Unregister(b)
	st = h.Stats()
	if st.TotalConnections != 2 || st.TotalUsers != 1 || len(st.ChannelCounts) != 0 {
		t.Errorf("after unregister: %+v", st)
	}
	if err := h.Subscribe(b, "news"); herald.CodeOf(err) != herald.ECONFLICT {
		t.Errorf("subscribe of an unregistered conn: %v", err)
	}
}

func TestLimits(t *testing.T) {
	h := hub.New(hub.Config{MaxConnections: 3, MaxPerUser: 2, MaxSubscriptions: 1})
	a1, a2, a3, b, c := &conn{user: "a"}, &conn{user: "a"}, &conn{user: "a"}, &conn{user: "b"}, &conn{user: "c"}
	h.Register(a1)
	h.Register(a2)
	if err := h.Register(a3); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Errorf("third conn of a: %v", err)
	}
	h.Register(b)
	if err := h.Register(c); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Errorf("fourth conn: %v", err)
	}
	h.Subscribe(b, "x")
	if err := h.Subscribe(b, "y"); herald.CodeOf(err) != herald.EINVALID {
		t.Errorf("second channel: %v", err)
	}
}

func TestRefusingConnIsNotCounted(t *testing.T) {
	h := hub.New(hub.Config{})
	h.Register(&conn{user: "a"})
	h.Register(&conn{user: "a", full: true})
	if n := h.Deliver(msg(herald.ToUser, "a", "")); n != 1 {
		t.Errorf("delivered %d, want 1", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	h := hub.New(hub.Config{MaxConnections: 100000})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := &conn{user: fmt.Sprint("u", w, "-", i%10)}
				h.Register(c)
				h.Subscribe(c, "room")
				h.Deliver(msg(herald.ToChannel, "room", ""))
				h.Deliver(msg(herald.ToAll, "", ""))
				h.Stats()
				h.Unregister(c)
			}
		}()
	}
	wg.Wait()
	if st := h.Stats(); st.TotalConnections != 0 || st.TotalUsers != 0 || len(st.ChannelCounts) != 0 {
		t.Errorf("left behind: %+v", st)
	}
}

// BenchmarkDeliverChannel measures fan-out to 5,000 subscribers: the hub's
// share of the per-delivery cost (queueing), without sockets.
func BenchmarkDeliverChannel(b *testing.B) {
	h := hub.New(hub.Config{MaxConnections: 10000})
	for i := range 5000 {
		c := &conn{user: fmt.Sprint(i)}
		h.Register(c)
		h.Subscribe(c, "room")
	}
	m := msg(herald.ToChannel, "room", "")
	b.ReportAllocs()
	for b.Loop() {
		h.Deliver(m)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000), "ns/delivery")
}

type interestLog struct {
	mu  sync.Mutex
	log []string
}

func (l *interestLog) SetInterest(a herald.Audience, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, fmt.Sprint(a.Kind, a.Name, on))
}

func TestInterest(t *testing.T) {
	il := &interestLog{}
	h := hub.New(hub.Config{Interest: il})
	a1, a2 := &conn{user: "a"}, &conn{user: "a"}
	h.Register(a1)
	h.Register(a2)
	h.Subscribe(a1, "x")
	h.Subscribe(a2, "x")
	h.Unregister(a1)
	h.Unregister(a2)
	want := []string{
		fmt.Sprint(herald.ToUser, "a", true), fmt.Sprint(herald.ToChannel, "x", true),
		fmt.Sprint(herald.ToChannel, "x", false), fmt.Sprint(herald.ToUser, "a", false),
	}
	if fmt.Sprint(il.log) != fmt.Sprint(want) {
		t.Errorf("interest log %v, want %v", il.log, want)
	}
}

// TestEachMayCallBack: Each holds no lock while f runs, so f may change the
// hub — the WebSocket server's heartbeat and shutdown close connections from
// it.
func TestEachMayCallBack(t *testing.T) {
	h := hub.New(hub.Config{})
	for i := range 100 {
		c := &conn{user: fmt.Sprint("u", i%7)}
		if err := h.Register(c); err != nil {
			t.Fatal(err)
		}
		h.Subscribe(c, "news")
	}
	seen := 0
	h.Each(func(c herald.Conn) {
		seen++
		h.Unregister(c)
	})
	if st := h.Stats(); seen != 100 || st.TotalConnections != 0 || len(st.ChannelCounts) != 0 {
		t.Fatalf("saw %d, left %+v", seen, st)
	}
	if got := len(h.OfUser("u1")); got != 0 {
		t.Fatalf("OfUser after Unregister: %d", got)
	}
}

// TestUserConnectionsComeAndGo: a user's connections leave in any order and
// the rest keep receiving; OfUser never names one that left, nor aliases the
// hub's own list.
func TestUserConnectionsComeAndGo(t *testing.T) {
	h := hub.New(hub.Config{})
	a := []*conn{{user: "a"}, {user: "a"}, {user: "a"}, {user: "a"}}
	for _, c := range a {
		if err := h.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	h.Unregister(a[1])
	h.Unregister(a[1]) // twice is harmless
	h.Unregister(a[3])
	if n := h.Deliver(msg(herald.ToUser, "a", "")); n != 2 {
		t.Fatalf("to user a: %d deliveries, want 2", n)
	}
	for i, want := range []int64{1, 0, 1, 0} {
		if got := a[i].got.Load(); got != want {
			t.Errorf("connection %d got %d, want %d", i, got, want)
		}
	}
	got := h.OfUser("a")
	if len(got) != 2 || got[0] == herald.Conn(a[1]) || got[1] == herald.Conn(a[1]) {
		t.Fatalf("OfUser after two left: %v", got)
	}
	got[0] = nil // the caller's copy
	if err := h.Register(a[1]); err != nil {
		t.Fatal(err)
	}
	if n := h.Deliver(msg(herald.ToUser, "a", "")); n != 3 {
		t.Fatalf("after one came back: %d deliveries, want 3", n)
	}
	for _, c := range a {
		h.Unregister(c)
	}
	if st := h.Stats(); st.TotalConnections != 0 || st.TotalUsers != 0 || len(h.OfUser("a")) != 0 {
		t.Fatalf("after all left: %+v, OfUser %v", st, h.OfUser("a"))
	}
}

// batchConn is a conn that takes batches, recording each.
type batchConn struct {
	conn
	mu      sync.Mutex
	batches [][]*herald.Message
}

func (c *batchConn) SendBatch(ms []*herald.Message) bool {
	if c.full {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, ms)
	return true
}

// DeliverBatch hands the whole batch to each connection of its audience:
// at once to one that takes batches, one by one to one that does not, and
// counts those that took it all.
func TestDeliverBatch(t *testing.T) {
	h := hub.New(hub.Config{})
	batcher, plain, full, other := &batchConn{conn: conn{user: "a"}}, &conn{user: "a"}, &conn{user: "a", full: true}, &conn{user: "b"}
	for _, c := range []herald.Conn{batcher, plain, full, other} {
		if err := h.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	ms := []*herald.Message{msg(herald.ToUser, "a", ""), msg(herald.ToUser, "a", "")}
	if n := h.DeliverBatch(ms); n != 2 {
		t.Errorf("DeliverBatch reached %d connections, want 2 (the full one refuses)", n)
	}
	if len(batcher.batches) != 1 || len(batcher.batches[0]) != 2 || batcher.batches[0][0] != ms[0] || batcher.batches[0][1] != ms[1] {
		t.Errorf("the batch connection got %v, want the batch once", batcher.batches)
	}
	if plain.got.Load() != 2 {
		t.Errorf("the plain connection got %d messages, want 2", plain.got.Load())
	}
	if other.got.Load() != 0 {
		t.Errorf("another user's connection got %d messages", other.got.Load())
	}
	if n := h.DeliverBatch(nil); n != 0 {
		t.Errorf("an empty batch reached %d connections", n)
	}
}
