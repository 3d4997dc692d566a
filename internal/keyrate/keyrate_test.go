package keyrate_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/keyrate"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := keyrate.New(2, 3, func() time.Time { return now }) // 2 per second, burst 3
	for i := range 3 {
		if ok, _ := l.Take("a"); !ok {
			t.Fatalf("attempt %d within the burst refused", i)
		}
	}
	ok, wait := l.Take("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.Take("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Take("a"); !ok {
		t.Fatal("no token after the wait it named")
	}
	// Full buckets are swept after a minute.
	now = now.Add(2 * time.Minute)
	l.Take("c")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want only c's", n)
	}
}

func TestWaitSpendsNothing(t *testing.T) {
	now := time.Unix(1000, 0)
	l := keyrate.New(1, 2, func() time.Time { return now }) // 1 per second, burst 2
	if w := l.Wait("a"); w != 0 || l.Len() != 0 {
		t.Fatalf("unknown key: wait %v, %d buckets; want 0 and none made", w, l.Len())
	}
	for range 5 {
		if w := l.Wait("a"); w != 0 {
			t.Fatalf("Wait spent a token: wait %v", w)
		}
	}
	l.Take("a")
	l.Take("a")
	if w := l.Wait("a"); w != time.Second {
		t.Fatalf("empty bucket: wait %v, want 1s", w)
	}
	now = now.Add(time.Second)
	if w := l.Wait("a"); w != 0 {
		t.Fatalf("after the refill: wait %v", w)
	}
}
