package client_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/redistest"
)

// redisCaches returns n RedisCaches on one real Redis database, each with a
// connection of its own, as n backend instances would have.
func redisCaches(t *testing.T, n int) []*client.RedisCache {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*client.RedisCache, n)
	for i := range out {
		rc := redis.NewClient(opt)
		t.Cleanup(func() { rc.Close() })
		out[i] = &client.RedisCache{Client: rc, Prefix: db.Prefix, LockPoll: 5 * time.Millisecond}
	}
	return out
}

// testCache checks the Cache contract on two handles of one cache.
func testCache(t *testing.T, a, b client.Cache) {
	ctx := ctxT(t, 20*time.Second)
	if _, ok, err := a.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get of a missing key = %v, %v", ok, err)
	}
	if err := a.Set(ctx, "k", "v1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Get(ctx, "k"); v != "v1" || !ok || err != nil {
		t.Errorf("the other handle reads %q, %v, %v; want v1", v, ok, err)
	}
	if ok, err := b.CompareAndDelete(ctx, "k", "v0"); ok || err != nil {
		t.Errorf("CompareAndDelete with another value = %v, %v; want false", ok, err)
	}
	if _, ok, _ := a.Get(ctx, "k"); !ok {
		t.Error("CompareAndDelete with another value deleted the key")
	}
	if ok, err := b.CompareAndDelete(ctx, "k", "v1"); !ok || err != nil {
		t.Errorf("CompareAndDelete with the value = %v, %v; want true", ok, err)
	}
	if _, ok, _ := a.Get(ctx, "k"); ok {
		t.Error("the key survived CompareAndDelete")
	}

	// One holder of a lock at a time, across handles.
	var holders, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := c.Lock(ctx, "lock", 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			n := holders.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			holders.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders of the lock at once, want 1", most.Load())
	}
	// A waiter gives up when its context ends.
	unlock, err := a.Lock(ctx, "lock", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "lock", 10*time.Second); err == nil {
		t.Error("a second Lock succeeded while the first was held")
	}
	unlock()
	unlock2, err := b.Lock(ctx, "lock", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestMemoryCache(t *testing.T) {
	m := client.NewMemoryCache()
	testCache(t, m, m)
	now := time.Now()
	m.Now = func() time.Time { return now }
	ctx := ctxT(t, time.Second)
	m.Set(ctx, "ttl", "v", time.Minute)
	now = now.Add(59 * time.Second)
	if _, ok, _ := m.Get(ctx, "ttl"); !ok {
		t.Error("expired before its TTL")
	}
	now = now.Add(time.Second)
	if _, ok, _ := m.Get(ctx, "ttl"); ok {
		t.Error("still there at its TTL")
	}
}

func TestRedisCache(t *testing.T) {
	cs := redisCaches(t, 2)
	testCache(t, cs[0], cs[1])
	ctx := ctxT(t, 5*time.Second)
	if err := cs[0].Set(ctx, "ttl", "v", 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := cs[1].Get(ctx, "ttl"); !ok {
		t.Fatal("missing before its TTL")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, ok, _ := cs[1].Get(ctx, "ttl"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key outlived its TTL by 3s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A crashed holder's lock expires by itself.
	if _, err := cs[0].Lock(ctx, "abandoned", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	unlock, err := cs[1].Lock(ctx, "abandoned", time.Second)
	if err != nil {
		t.Fatalf("the abandoned lock was not released by its TTL: %v", err)
	}
	unlock()
}
