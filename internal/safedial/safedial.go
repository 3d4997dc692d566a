// Package safedial makes HTTP clients for URLs that users supply (their
// webhooks, their browsers' push endpoints), which must not become a way to
// reach the server's own network: every connection, redirects included, is
// checked after name resolution and refused when it goes to a loopback,
// private, link-local, multicast or unspecified address.
package safedial

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbidden is the dial error for a refused address.
var ErrForbidden = errors.New("safedial: address not allowed")

// Allowed reports whether a connection to ip may be made.
func Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() && !ip.IsUnspecified() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) // carrier-grade NAT, often internal too
}

// control refuses connections to addresses Allowed refuses.
func control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !Allowed(ap.Addr()) {
		return ErrForbidden
	}
	return nil
}

// Client returns an HTTP client with timeout that refuses internal
// addresses unless allowPrivate, follows no redirects, and uses no proxy
// (a proxy would hide the address checked).
func Client(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = control
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
