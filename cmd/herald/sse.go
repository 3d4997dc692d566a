package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
	"github.com/heraldhq/herald/sse"
)

// wireSSE mounts the Server-Sent Events endpoint at /sse beside /ws, with
// the WebSocket's settings (heartbeat, queue, limits, origins, channels):
// one set of rules for both transports. It registers the SSE metrics and
// herald_transport_connections{transport}.
func (a *app) wireSSE(cfg WSConfig, verifier herald.TokenVerifier, ib herald.Inbox, regr prometheus.Registerer) {
	m := session.NewMetrics("sse")
	regr.MustRegister(m.Collectors()...)
	wc := cfg.wsConfig()
	a.sse = sse.New(sse.Config{
		Hub: a.wsHub(), Verifier: verifier, Inbox: ib, Logger: a.log, Metrics: m,
		HeartbeatInterval: wc.HeartbeatInterval, MaxMessageBytes: wc.MaxMessageBytes, QueueSize: wc.QueueSize,
		RateLimit: wc.RateLimit, RateBurst: wc.RateBurst, AllowedOrigins: wc.AllowedOrigins,
		DisableQueryToken: wc.DisableQueryToken, ExpiryGrace: wc.ExpiryGrace,
		ConnectRate: wc.ConnectRate, ConnectBurst: wc.ConnectBurst,
		ClientEvents: clientEvents(cfg), ClientEventTypes: wc.ClientEventTypes, Channels: wc.Channels,
	})
	a.api.Handle("/sse", a.sse)
	a.api.Handle("/sse/", a.sse)
	for _, t := range []string{"websocket", "sse"} {
		regr.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_transport_connections", Help: "Live connections on this node by transport.",
			ConstLabels: prometheus.Labels{"transport": t},
		}, func() float64 { return float64(a.transportCounts()[t]) }))
	}
}

// transportCounts splits this node's connections by transport: the hub
// holds both kinds, the SSE server knows its own.
func (a *app) transportCounts() map[string]int {
	total, _ := a.hub.Counts()
	n := a.sse.Count()
	return map[string]int{"websocket": max(total-n, 0), "sse": n}
}
