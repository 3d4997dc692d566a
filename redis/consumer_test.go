package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/redis"
)

// flaky fails the first failures calls with EUNAVAILABLE, as a handler whose
// store is down would, then passes to the real handler.
type flaky struct {
	next     herald.EventHandler
	failures atomic.Int32
	calls    atomic.Int32
}

func (f *flaky) HandleEvent(ctx context.Context, e *herald.Event) ([]herald.Created, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "store unavailable")
	}
	return f.next.HandleEvent(ctx, e)
}

// eventEnv is the real event pipeline on an in-memory store.
type eventEnv struct {
	store   *memory.Store
	handler *flaky
	client  *redis.Client
	stream  string
	group   string
}

func newEventEnv(t *testing.T, db *redistest.DB) *eventEnv {
	t.Helper()
	store := memory.NewStore(memory.Config{})
	ib, err := inbox.New(inbox.Config{Store: store, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := events.New(events.Config{Inbox: ib})
	if err != nil {
		t.Fatal(err)
	}
	return &eventEnv{store: store, handler: &flaky{next: h}, client: newClient(t, db.URL),
		stream: db.Prefix + "events", group: "herald"}
}

// add queues a booking:confirmed event for user with the given id ("" for none).
func (e *eventEnv) add(t *testing.T, id, user string, booking int) string {
	t.Helper()
	ev := map[string]any{"event": "booking:confirmed", "data": map[string]any{"userId": user, "vehicleName": "Van", "bookingId": booking}}
	if id != "" {
		ev["id"] = id
	}
	body, _ := json.Marshal(ev)
	entry, err := e.client.XAdd(context.Background(), &goredis.XAddArgs{Stream: e.stream, Values: map[string]any{redis.EventField: string(body)}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return entry
}

func (e *eventEnv) run(t *testing.T, consumer string, tune func(*redis.ConsumerConfig)) {
	t.Helper()
	cfg := redis.ConsumerConfig{
		Client:   e.client,
		Handler:  e.handler,
		Stream:   e.stream,
		Group:    e.group,
		Consumer: consumer,
		Block:    100 * time.Millisecond,
		RetryMin: 10 * time.Millisecond,
		RetryMax: 50 * time.Millisecond,
		Logger:   testLogger().With("consumer", consumer),
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := redis.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func (e *eventEnv) count(t *testing.T, user string) int {
	t.Helper()
	ns, err := e.store.FindNotifications(context.Background(), herald.NotificationFilter{UserID: user, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ns)
}

func (e *eventEnv) pending(t *testing.T) int64 {
	t.Helper()
	p, err := e.client.XPending(context.Background(), e.stream, e.group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

// TestConsumerHandlesQueuedEvents: events queued before any node runs are
// handled once each, after transient failures; the group ends with nothing
// pending; a malformed entry is dead-lettered. On Redis Cluster the stream is
// one key on one shard, and its dead-letter stream may be on another.
func TestConsumerHandlesQueuedEvents(t *testing.T) { eachTopology(t, testConsumerHandlesQueuedEvents) }

func testConsumerHandlesQueuedEvents(t *testing.T, db *redistest.DB) {
	e := newEventEnv(t, db)
	for i := range 5 {
		e.add(t, fmt.Sprintf("evt-%d", i), "alice", i)
	}
	e.add(t, "", "bob", 9) // no id: the entry id stands in
	bad, err := e.client.XAdd(context.Background(), &goredis.XAddArgs{Stream: e.stream, Values: map[string]any{"event": "{not json"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	e.handler.failures.Store(3)
	e.run(t, "node-a", nil)
	waitUntil(t, 10*time.Second, "every entry to be handled and acknowledged", func() bool {
		return e.count(t, "alice") == 5 && e.count(t, "bob") == 1 && e.pending(t) == 0
	})
	dead, err := e.client.XRange(context.Background(), e.stream+":dead", "-", "+").Result()
	if err != nil || len(dead) != 1 || dead[0].Values["entry"] != bad {
		t.Fatalf("dead letters %v, %v; want the malformed entry %s", dead, err, bad)
	}
	if e.handler.calls.Load() < 9 {
		t.Fatalf("handler called %d times; want 6 events plus 3 failures", e.handler.calls.Load())
	}
}

// TestConsumerClaimsFromDeadConsumer: a consumer took entries and died
// without acknowledging them (after handling one of them). Another node
// claims them once they are idle long enough and handles each; the event it
// had handled is not created twice.
func TestConsumerClaimsFromDeadConsumer(t *testing.T) {
	eachTopology(t, testConsumerClaimsFromDeadConsumer)
}

func testConsumerClaimsFromDeadConsumer(t *testing.T, db *redistest.DB) {
	e := newEventEnv(t, db)
	ctx := context.Background()
	if err := e.client.XGroupCreateMkStream(ctx, e.stream, e.group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		e.add(t, fmt.Sprintf("evt-%d", i), "carol", i)
	}
	// The dead consumer: reads all four, handles the first, never acks.
	got, err := e.client.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: e.group, Consumer: "dead", Streams: []string{e.stream, ">"}, Count: 10, Block: -1}).Result()
	if err != nil || len(got[0].Messages) != 4 {
		t.Fatalf("dead consumer read %v, %v", got, err)
	}
	var first herald.Event
	if err := json.Unmarshal([]byte(got[0].Messages[0].Values[redis.EventField].(string)), &first); err != nil {
		t.Fatal(err)
	}
	if _, err := e.handler.HandleEvent(ctx, &first); err != nil {
		t.Fatal(err)
	}
	if e.pending(t) != 4 {
		t.Fatalf("pending %d, want 4", e.pending(t))
	}

	e.run(t, "node-b", func(c *redis.ConsumerConfig) {
		c.ClaimIdle = 300 * time.Millisecond
		c.ClaimInterval = 50 * time.Millisecond
	})
	waitUntil(t, 10*time.Second, "the dead consumer's entries to be claimed and handled", func() bool {
		return e.pending(t) == 0
	})
	if n := e.count(t, "carol"); n != 4 {
		t.Fatalf("carol has %d notifications, want 4 (one per event, none twice)", n)
	}
}

// TestConsumerSurvivesRedisRestart: Redis restarts empty (the group is
// gone); the consumer creates it again and handles what is queued after.
func TestConsumerSurvivesRedisRestart(t *testing.T) {
	srv := redistest.NewServer(t)
	db := srv.NewDB(t)
	e := newEventEnv(t, db)
	e.run(t, "node-a", nil)
	e.add(t, "before", "dave", 1)
	waitUntil(t, 10*time.Second, "the first event", func() bool { return e.count(t, "dave") == 1 })
	srv.Stop(t)
	time.Sleep(200 * time.Millisecond) // let the consumer fail at least once
	srv.Start(t)
	waitUntil(t, 10*time.Second, "Redis to take entries again", func() bool {
		return e.client.Ping(context.Background()).Err() == nil
	})
	e.add(t, "after", "dave", 2)
	waitUntil(t, 10*time.Second, "the event queued after the restart", func() bool { return e.count(t, "dave") == 2 })
}
