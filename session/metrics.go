package session

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a transport's Prometheus collectors, shared by its sessions
// and the transport itself. Register them with Collectors.
type Metrics struct {
	Connects          prometheus.Counter
	Disconnects       *prometheus.CounterVec
	Refused           *prometheus.CounterVec
	AuthFailures      *prometheus.CounterVec
	MessagesIn        *prometheus.CounterVec
	MessagesOut       prometheus.Counter
	Writes            prometheus.Counter
	QueueOverflows    prometheus.Counter
	HeartbeatTimeouts prometheus.Counter
	TokenExpiries     prometheus.Counter
	Throttled         prometheus.Counter
	ReplayRetries     prometheus.Counter
}

// NewMetrics returns a fresh set of collectors named herald_<transport>_…,
// e.g. herald_ws_connects_total for transport "ws".
func NewMetrics(transport string) *Metrics {
	p := "herald_" + transport + "_"
	return &Metrics{
		Connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "connects_total", Help: "Connections accepted.",
		}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "disconnects_total", Help: "Connections ended, by close code.",
		}, []string{"code"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "refused_total", Help: "Authenticated connections refused by a limit.",
		}, []string{"reason"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "auth_failures_total", Help: "Handshakes refused, by reason.",
		}, []string{"reason"}),
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "messages_in_total", Help: "Client messages received, by type.",
		}, []string{"type"}),
		MessagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "messages_out_total", Help: "Messages queued to clients.",
		}),
		Writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "writes_total", Help: "Socket writes; each carries one or more queued messages, so messages_out_total divided by this is how well writes batch.",
		}),
		QueueOverflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "queue_overflows_total", Help: "Connections closed because their outbound queue was full.",
		}),
		HeartbeatTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "heartbeat_timeouts_total", Help: "Connections terminated for not answering a ping.",
		}),
		TokenExpiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "token_expiries_total", Help: "Connections closed with 4002 because their token expired.",
		}),
		Throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "connect_throttled_total", Help: "Connection attempts refused with 429 by the per-address limit.",
		}),
		ReplayRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: p + "replay_retries_total", Help: "Replay store reads retried after a failure.",
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Connects, m.Disconnects, m.Refused, m.AuthFailures,
		m.MessagesIn, m.MessagesOut, m.Writes, m.QueueOverflows, m.HeartbeatTimeouts, m.TokenExpiries, m.Throttled, m.ReplayRetries}
}
