package ws

import "github.com/heraldhq/herald/session"

// The session package holds what a client session is, whatever its
// transport; these names keep the WebSocket endpoint's API as it was.
type (
	// ChannelPolicy decides who may join which channel (session.ChannelPolicy).
	ChannelPolicy = session.ChannelPolicy
	// Metrics are the endpoint's Prometheus collectors (session.Metrics).
	Metrics = session.Metrics
)

// Reasons the server gives when it ends a subscription by itself.
const (
	ReasonGrantRevoked = session.ReasonGrantRevoked
	ReasonTokenExpired = session.ReasonTokenExpired
	// TypeResumed ends a replay (session.TypeResumed).
	TypeResumed = session.TypeResumed
	// MaxEventTypeLen caps a custom_event's payload.eventType.
	MaxEventTypeLen = session.MaxEventTypeLen
)

// NewMetrics returns a fresh set of collectors, named herald_ws_….
func NewMetrics() *Metrics { return session.NewMetrics("ws") }
