package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
	"github.com/heraldhq/herald/sse"
	"github.com/heraldhq/herald/ws"
)

// wireSSE mounts the Server-Sent Events endpoint at /sse beside /ws, with
// the WebSocket's settings (heartbeat, queue, limits, origins, channels):
// one set of rules for both transports. It registers the SSE metrics and
// herald_transport_connections{transport}.
func (a *app) wireSSE(w WSConfig, verifier herald.TokenVerifier, ib herald.Inbox, regr prometheus.Registerer) {
	m := session.NewMetrics("sse")
	regr.MustRegister(m.Collectors()...)
	a.sse = sse.New(sse.Config{
		Hub:               a.hub,
		Admission:         a.admission(),
		Verifier:          verifier,
		Inbox:             ib,
		Logger:            a.log,
		HeartbeatInterval: w.HeartbeatInterval,
		MaxMessageBytes:   w.MaxMessageBytes,
		QueueSize:         w.QueueSize,
		RateLimit:         w.RateLimit,
		RateBurst:         w.RateBurst,
		AllowedOrigins:    w.AllowedOrigins,
		DisableQueryToken: w.DisableQueryToken,
		ExpiryGrace:       expiryGrace(w.ExpiryGrace),
		ConnectRate:       w.ConnectRate,
		ConnectBurst:      w.ConnectBurst,
		ClientEvents:      clientEvents(w),
		ClientEventTypes:  w.ClientEventTypes,
		Channels:          ws.ChannelPolicy{Strict: w.StrictChannels, Public: w.PublicChannels},
		Metrics:           m,
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

// localStats is this node's figures with their split by transport: what
// /api/stats reports on a single node and what the cluster heartbeat
// carries to the other nodes' totals.
func (a *app) localStats() herald.Stats {
	st := a.hub.Stats()
	st.Transports = a.transportCounts()
	return st
}

// transportCounts splits this node's connections by transport: the hub
// holds both kinds, the SSE server knows its own.
func (a *app) transportCounts() map[string]int {
	total, _ := a.hub.Counts()
	n := a.sse.Count()
	return map[string]int{"websocket": max(total-n, 0), "sse": n}
}
