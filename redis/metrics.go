package redis

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the package's Prometheus collectors, shared by the Broker, the
// Cluster and the Consumer of one node. Register them with Collectors; a part
// made without Metrics counts into an unregistered set. The node id is not a
// label here: the caller adds it to every metric of the node at registration.
type Metrics struct {
	published     *prometheus.CounterVec
	received      prometheus.Counter
	malformed     prometheus.Counter
	dropped       prometheus.Counter
	up            prometheus.Gauge
	outages       prometheus.Counter
	probeFailures prometheus.Counter
	subscriptions prometheus.Gauge
	shards        prometheus.Gauge
	gaps          prometheus.Counter
	resyncs       prometheus.Counter
	admission     *prometheus.CounterVec
	heartbeats    *prometheus.CounterVec
	events        *prometheus.CounterVec
	claimed       prometheus.Counter
}

// NewMetrics returns a fresh set of collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_broker_published_total",
			Help: "Messages published to other nodes, by result: ok, failed (Redis error) or skipped (Redis known down; delivered locally only).",
		}, []string{"result"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_received_total", Help: "Messages received from other nodes and delivered locally.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_malformed_total", Help: "Pub/sub messages dropped because they did not decode.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_dropped_total", Help: "Messages from other nodes dropped while a resubscription waited for its probe, over the hold limit.",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_broker_up", Help: "1 while the node's Redis subscription works (its probe comes back), 0 while degraded.",
		}),
		outages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_outages_total", Help: "Times the node lost Redis and fell back to local delivery.",
		}),
		probeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_probe_failures_total", Help: "Probes that did not come back in time, each ending the subscription.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_broker_subscriptions", Help: "Redis channels the node is subscribed to, over every shard.",
		}),
		shards: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_broker_shards", Help: "Subscriptions the node keeps: 1 on one Redis, one per shard on Redis Cluster.",
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_seq_gaps_total", Help: "Notifications from Redis whose seq skipped some after the user's last one here; each replays the user's connections from the store first.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_broker_resyncs_total", Help: "Times the node replayed missed notifications to its connections after an outage.",
		}),
		admission: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_cluster_admissions_total", Help: "Cluster-wide connection cap checks, by result: ok, refused, or unchecked (Redis down).",
		}, []string{"result"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_cluster_heartbeats_total", Help: "Node heartbeats written to Redis, by result.",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_stream_events_total", Help: "Stream entries handled, by result: ok, invalid (dead-lettered) or retry (left pending).",
		}, []string{"result"}),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_stream_claimed_total", Help: "Pending stream entries claimed from consumers idle too long.",
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.published, m.received, m.malformed, m.dropped, m.up, m.outages, m.probeFailures,
		m.subscriptions, m.shards, m.gaps, m.resyncs, m.admission, m.heartbeats, m.events, m.claimed}
}
