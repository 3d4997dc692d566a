package inbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestStripeLockStopsWaitingWhenContextEnds(t *testing.T) {
	s := newStripes()
	unlock, err := s.lock(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.lock(ctx, "bob", "alice"); err != context.Canceled {
		t.Fatalf("lock on a held stripe with a dead context = %v, want context.Canceled", err)
	}
	unlock()
	// Everything the failed call took was given back.
	unlock, err = s.lock(context.Background(), "alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TestStripeLockHasNoCycles locks overlapping user sets, given in opposite
// orders, from many goroutines: taking stripes in ascending order means none
// of them can wait for another in a cycle, so the test finishes.
func TestStripeLockHasNoCycles(t *testing.T) {
	s := newStripes()
	var users []string
	for i := range 64 {
		users = append(users, fmt.Sprintf("user-%d", i))
	}
	reversed := slices.Clone(users)
	slices.Reverse(reversed)
	var wg sync.WaitGroup
	for g := range 8 {
		set := users
		if g%2 == 1 {
			set = reversed
		}
		wg.Go(func() {
			for range 200 {
				unlock, err := s.lock(context.Background(), set...)
				if err != nil {
					t.Error(err)
					return
				}
				unlock()
			}
		})
	}
	wg.Wait()
}

func TestStripeLockTakesARepeatedStripeOnce(t *testing.T) {
	s := newStripes()
	unlock, err := s.lock(context.Background(), "alice", "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	unlock, err = s.lock(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
