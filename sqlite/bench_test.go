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

	b.Run("parallel", func(b *testing.B) {
		s := newStore(b)
		var users, total atomic.Int64
		b.SetParallelism(16) // many concurrent callers, as a busy server has
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			user := fmt.Sprintf("user%d", users.Add(1))
			i := 0
			for pb.Next() {
				i++
				if _, err := createInto(ctx, s, []*herald.Notification{sample(user, i)}); err != nil {
					b.Error(err)
					return
				}
			}
			total.Add(int64(i))
		})
		report(b, int(total.Load()))
		b.ReportMetric(float64(total.Load())/float64(sqlite.Commits(s)), "notifications/commit")
	})

	// As herald-bench notify loads a server: 64 callers, each notification
	// for one of 1,000 users.
	b.Run("users1000", func(b *testing.B) {
		s := newStore(b)
		var next, total atomic.Int64
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				user := fmt.Sprintf("user%04d", next.Add(7919)%1000)
				if _, err := createInto(ctx, s, []*herald.Notification{sample(user, i)}); err != nil {
					b.Error(err)
					return
				}
			}
			total.Add(int64(i))
		})
		report(b, int(total.Load()))
		b.ReportMetric(float64(total.Load())/float64(sqlite.Commits(s)), "notifications/commit")
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
