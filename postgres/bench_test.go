package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/postgres"
)

// BenchmarkCreate measures notifications stored per second: one per call in
// sequence, one per call from many goroutines, and 100 per call. The pgtest
// server runs with fsync off, so these are upper bounds for a durable server.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
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
		s := open(b, postgres.Config{})
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
		s := open(b, postgres.Config{MaxConns: 16})
		var users, total atomic.Int64
		b.SetParallelism(16)
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
	})

	b.Run("batch100", func(b *testing.B) {
		s := open(b, postgres.Config{})
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
