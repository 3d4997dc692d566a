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
