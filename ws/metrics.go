package ws

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the endpoint's Prometheus collectors. Register them with
// Collectors; a Server made without Metrics counts into an unregistered set.
type Metrics struct {
	connects          prometheus.Counter
	disconnects       *prometheus.CounterVec
	refused           *prometheus.CounterVec
	authFailures      *prometheus.CounterVec
	messagesIn        *prometheus.CounterVec
	messagesOut       prometheus.Counter
	queueOverflows    prometheus.Counter
	heartbeatTimeouts prometheus.Counter
	tokenExpiries     prometheus.Counter
	throttled         prometheus.Counter
}

// NewMetrics returns a fresh set of collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_connects_total", Help: "WebSocket connections accepted.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_ws_disconnects_total", Help: "WebSocket connections ended, by close code.",
		}, []string{"code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_ws_refused_total", Help: "Authenticated connections refused by a limit.",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_ws_auth_failures_total", Help: "Handshakes refused, by reason.",
		}, []string{"reason"}),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_ws_messages_in_total", Help: "Client messages received, by type.",
		}, []string{"type"}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_messages_out_total", Help: "Messages queued to clients.",
		}),
		queueOverflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_queue_overflows_total", Help: "Connections closed because their outbound queue was full.",
		}),
		heartbeatTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_heartbeat_timeouts_total", Help: "Connections terminated for not answering a ping.",
		}),
		tokenExpiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_token_expiries_total", Help: "Connections closed with 4002 because their token expired.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_ws_connect_throttled_total", Help: "Connection attempts refused with 429 by the per-address limit.",
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connects, m.disconnects, m.refused, m.authFailures,
		m.messagesIn, m.messagesOut, m.queueOverflows, m.heartbeatTimeouts, m.tokenExpiries, m.throttled}
}
