package http

import (
	"crypto/tls"
	"net"
)

// TLSConfig returns the TLS settings Herald terminates wss:// and https://
// with, serving the certificate getCertificate returns on each handshake (a
// reloader's hook, so a renewed pair is used without a restart). The floor
// is TLS 1.2 with Go's default cipher suites, which already exclude the
// broken ones; ALPN offers HTTP/1.1 only, since a WebSocket upgrade is an
// HTTP/1.1 request and browsers that negotiated h2 would not send one.
func TLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return hardenTLS(&tls.Config{GetCertificate: getCertificate})
}

// hardenTLS returns a copy of c raised to Herald's floor: at least TLS 1.2,
// and HTTP/1.1 as the only application protocol. Nil stays nil (plain HTTP).
func hardenTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	c.NextProtos = []string{"http/1.1"}
	return c
}

// tlsListener wraps ln so that connections are TLS when Config.TLS is set.
// net/http's handshake then runs under ReadHeaderTimeout, and a client that
// speaks plain HTTP to the port gets a 400 and is hung up on.
func (s *Server) tlsListener(ln net.Listener) net.Listener {
	if s.cfg.TLS == nil {
		return ln
	}
	return tls.NewListener(ln, s.cfg.TLS)
}
