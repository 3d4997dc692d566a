package sqlstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the commit loop's Prometheus collectors: how long the writer
// is busy per commit, how many notifications each commit carries, and how
// long a create waits for its commit. Together they tell an operator whether
// the database is the bound: creates that wait much longer than a commit
// takes are queueing for the writer.
type metrics struct {
	commit  prometheus.Histogram
	size    prometheus.Histogram
	created prometheus.Histogram
}

func newMetrics() *metrics {
	seconds := prometheus.ExponentialBuckets(0.0005, 2, 12) // 0.5 ms to 1 s
	return &metrics{
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_store_commit_seconds",
			Help:    "Time one commit of queued creates (or one chunk of a topic's fan-out) took, from its BEGIN to its COMMIT.",
			Buckets: seconds,
		}),
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_store_commit_notifications",
			Help:    "Notifications one commit stored: under load each commit carries the creates of many callers.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000},
		}),
		created: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_store_create_seconds",
			Help:    "Time a create waited for its commit, queueing included; well above herald_store_commit_seconds, creates queue for the writer.",
			Buckets: seconds,
		}),
	}
}

// committed records one commit that took d and stored n notifications.
func (m *metrics) committed(d time.Duration, n int) {
	m.commit.Observe(d.Seconds())
	m.size.Observe(float64(n))
}

// Collectors returns the Store's Prometheus collectors, for registration.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.commit, s.metrics.size, s.metrics.created}
}
