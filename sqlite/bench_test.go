package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkCreate measures notifications stored per second in a WAL file:
// one per call in sequence, one per call from many goroutines (where group
// commit shares transactions), and 100 per call.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	newStore := func(b *testing.B) *sqlite.Store {
		return open(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db")})
	}
	sample := func(user string, i int) *herald.Notification {
		return &herald.Notification{
			UserID:  user,
			Type:    "booking:confirmed",
			Title:   "Booking confirmed",
			Message: fmt.Sprintf("Your booking #%d is confirmed.", i),
			Link:    "/bookings/42",
			Data:    []byte(`{"bookingId":42,"start":"2025-05-12T10:00:00Z","room":"B-204"}`),
		}
	}
	report := func(b *testing.B, notifications int) {
		b.ReportMetric(float64(notifications)/b.Elapsed().Seconds(), "notifications/s")
	}

	b.Run("single", func(b *testing.B) {
		s := newStore(b)
		i := 0
		for b.Loop() {
			i++
			if _, err := createInto(ctx, s, []*herald.Notification{sample("alice", i)}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, i)
	})

	// parallel runs callers callers at once (parallelism × GOMAXPROCS),
	// each notification for the user userOf names.
	parallel := func(b *testing.B, parallelism int, userOf func(caller, i int64) string) {
		s := newStore(b)
		var callers, total atomic.Int64
		b.SetParallelism(parallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			caller := callers.Add(1)
			var i int64
			for pb.Next() {
				i++
				if _, err := createInto(ctx, s, []*herald.Notification{sample(userOf(caller, i), int(i))}); err != nil {
					b.Error(err)
					return
				}
			}
			total.Add(i)
		})
		report(b, int(total.Load()))
		b.ReportMetric(float64(total.Load())/float64(sqlite.Commits(s)), "notifications/commit")
	}

	// Many concurrent callers, as a busy server has, each for its own user.
	b.Run("parallel", func(b *testing.B) {
		parallel(b, 16, func(caller, _ int64) string { return fmt.Sprintf("user%d", caller) })
	})

	// As herald-bench notify loads a server: 64 callers, each notification
	// for one of 1,000 users.
	var next atomic.Int64
	b.Run("users1000", func(b *testing.B) {
		parallel(b, 32, func(_, _ int64) string { return fmt.Sprintf("user%04d", next.Add(7919)%1000) })
	})

	b.Run("batch100", func(b *testing.B) {
		s := newStore(b)
		batch := make([]*herald.Notification, 100)
		n := 0
		for b.Loop() {
			for i := range batch {
				batch[i] = sample(fmt.Sprintf("user%d", i%10), n+i)
			}
			if _, err := createInto(ctx, s, batch); err != nil {
				b.Fatal(err)
			}
			n += len(batch)
		}
		report(b, n)
	})
}

// BenchmarkUnreadCount measures the read that follows every commit which
// moves a user's count (inbox publishCount), for users with more and more
// unread notifications.
func BenchmarkUnreadCount(b *testing.B) {
	ctx := context.Background()
	for _, unread := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("unread=%d", unread), func(b *testing.B) {
			s := open(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db")})
			for done := 0; done < unread; done += 1000 {
				batch := make([]*herald.Notification, min(1000, unread-done))
				for i := range batch {
					batch[i] = &herald.Notification{UserID: "alice", Type: "t", Title: "t"}
				}
				if _, err := createInto(ctx, s, batch); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if u, err := s.UnreadCount(ctx, "alice"); err != nil || u.Count != unread {
					b.Fatalf("UnreadCount = %d, %v; want %d", u.Count, err, unread)
				}
			}
		})
	}
}

// BenchmarkMarkRead measures marking one notification read, which also
// moves the user's unread count.
func BenchmarkMarkRead(b *testing.B) {
	ctx := context.Background()
	s := open(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db")})
	var ids []string
	for b.Loop() {
		if len(ids) == 0 {
			b.StopTimer()
			batch := make([]*herald.Notification, 1000)
			for i := range batch {
				batch[i] = &herald.Notification{UserID: "alice", Type: "t", Title: "t"}
			}
			if _, err := createInto(ctx, s, batch); err != nil {
				b.Fatal(err)
			}
			for _, n := range batch {
				ids = append(ids, n.ID)
			}
			b.StartTimer()
		}
		if _, changed, err := s.MarkRead(ctx, "alice", ids[0], time.Time{}); err != nil || !changed {
			b.Fatalf("MarkRead = %v, %v", changed, err)
		}
		ids = ids[1:]
	}
}
