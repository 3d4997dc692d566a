package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the package's Prometheus collectors. Register them with
// Collectors, and the outbox gauge with Service.Collector.
type Metrics struct {
	planned  *prometheus.CounterVec
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	badges   *prometheus.CounterVec
}

// NewMetrics returns a fresh set of collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		planned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_planned_total",
			Help: "Deliveries written to the outbox, by channel and kind (immediate, escalation, digest).",
		}, []string{"channel", "kind"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_attempts_total",
			Help: "Delivery attempts by channel and outcome: sent, failed (retried later), dead (given up) or cancelled.",
		}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_delivery_send_seconds",
			Help:    "Time one delivery attempt took, by channel.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}, []string{"channel"}),
		badges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_badge_updates_total",
			Help: "Silent badge updates to mobile devices after reads, by platform and outcome (sent, gone, failed).",
		}, []string{"platform", "result"}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.planned, m.attempts, m.duration, m.badges}
}

// count counts the outcome of one delivery's attempt.
func (m *Metrics) count(c herald.Channel, st herald.DeliveryStatus) {
	m.attempts.WithLabelValues(string(c), string(st)).Inc()
}

// took records how long one send took (a digest is one send).
func (m *Metrics) took(c herald.Channel, d time.Duration) {
	m.duration.WithLabelValues(string(c)).Observe(d.Seconds())
}

// badge counts one badge update.
func (m *Metrics) badge(p herald.Platform, result string) {
	m.badges.WithLabelValues(string(p), result).Inc()
}

func (m *Metrics) plan(ds []*herald.Delivery) {
	for _, d := range ds {
		m.planned.WithLabelValues(string(d.Channel), string(d.Kind)).Inc()
	}
}

// outboxDesc describes the outbox gauge.
var outboxDesc = prometheus.NewDesc("herald_outbox_deliveries",
	"Deliveries in the outbox by status: pending, failed (awaiting a retry) and dead (given up; see GET /api/deliveries?status=dead).",
	[]string{"status"}, nil)

// outboxCollector reads the outbox counts from the store at each scrape.
type outboxCollector struct{ s *Service }

// Collector returns a collector of the outbox's pending, failed and dead
// counts, read from the store at each scrape.
func (s *Service) Collector() prometheus.Collector { return outboxCollector{s} }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.s.store.CountDeliveries(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxDesc, err)
		return
	}
	for _, st := range []herald.DeliveryStatus{herald.DeliveryPending, herald.DeliveryFailed, herald.DeliveryDead} {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
