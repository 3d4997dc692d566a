package session

import (
	"net"
	"net/http"
)

// OriginAllowed reports whether r may open a session from its Origin:
// allowed lists the exact origins browsers may connect from, and an empty
// list allows any. A request without Origin is not a browser's, which always
// sends one on WebSocket handshakes and cross-origin streams.
func OriginAllowed(allowed []string, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(allowed) == 0 || origin == "" {
		return true
	}
	for _, o := range allowed {
		if o == origin {
			return true
		}
	}
	return false
}

// ClientIP is the request's peer address, the key of the connection-rate
// limits. Forwarding headers are not trusted: behind a proxy, the proxy is
// the peer and should limit itself.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
