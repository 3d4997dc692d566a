package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/redistest"
)

// BenchmarkSubscriptionCost measures what one node's users cost Redis: it
// connects 100,000 users to one node and reports Redis's memory per
// subscribed channel (used_memory over every primary), the time until Redis
// counts every subscription, and the time to subscribe them all again after
// Redis dropped the node's subscription connections (CLIENT KILL TYPE
// pubsub). Run it once per topology:
//
//	go test -run X -bench SubscriptionCost -benchtime 1x ./redis
func BenchmarkSubscriptionCost(b *testing.B) {
	const users = 100000
	for _, topo := range []struct {
		name  string
		start func(testing.TB) (*redistest.DB, []string)
		info  string // the INFO stats field counting subscribed channels
	}{
		{"Single", func(tb testing.TB) (*redistest.DB, []string) {
			s := redistest.NewServer(tb)
			return s.NewDB(tb), []string{s.Addr()}
		}, "pubsub_channels"},
		{"Cluster", func(tb testing.TB) (*redistest.DB, []string) {
			c := redistest.NewCluster(tb)
			var addrs []string
			for _, p := range c.Primaries(tb) {
				addrs = append(addrs, p.Addr())
			}
			return c.NewDB(tb), addrs
		}, "pubsubshard_channels"},
	} {
		b.Run(topo.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db, primaries := topo.start(b)
				var clients []*goredis.Client
				for _, a := range primaries {
					c := goredis.NewClient(&goredis.Options{Addr: a})
					defer c.Close()
					clients = append(clients, c)
				}
				sum := func(section, field string) int64 {
					var n int64
					for _, c := range clients {
						info, err := c.Info(context.Background(), section).Result()
						if err != nil {
							b.Fatal(err)
						}
						for _, line := range strings.Split(info, "\n") {
							if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
								x, _ := strconv.ParseInt(v, 10, 64)
								n += x
							}
						}
					}
					return n
				}
				nd, rn := startNode(b, db, "cost", nil)
				base := sum("stats", topo.info)
				mem0 := sum("memory", "used_memory")
				start := time.Now()
				for i := range users {
					if err := nd.hub.Register(&testConn{user: fmt.Sprintf("user-%08d", i)}); err != nil {
						b.Fatal(err)
					}
				}
				waitUntil(b, 5*time.Minute, "every subscription counted", func() bool {
					return sum("stats", topo.info) >= base+users
				})
				subscribe := time.Since(start)
				mem := sum("memory", "used_memory") - mem0

				before := rn.recovers.Load() + int32(len(rn.resyncs("user-00000000")))
				start = time.Now()
				for _, c := range clients {
					if err := c.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
						b.Fatal(err)
					}
				}
				waitUntil(b, 5*time.Minute, "the node to subscribe again", func() bool {
					return rn.rb.Healthy() == nil && sum("stats", topo.info) >= base+users &&
						rn.recovers.Load()+int32(len(rn.resyncs("user-00000000"))) > before
				})
				resubscribe := time.Since(start)
				b.ReportMetric(float64(mem)/users, "redis-bytes/subscription")
				b.ReportMetric(subscribe.Seconds(), "s-to-subscribe-100k")
				b.ReportMetric(resubscribe.Seconds(), "s-to-resubscribe-100k")
			}
		})
	}
}
