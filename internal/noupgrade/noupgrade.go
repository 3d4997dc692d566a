// Package noupgrade is a test HTTP proxy that forwards every request to a
// server except the upgrade to a WebSocket: it drops the Upgrade header, as
// some corporate proxies and serverless front ends do, so that the server
// answers the handshake as a plain GET. Tests put it in front of Herald to
// show that clients fall back to Server-Sent Events.
package noupgrade

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Proxy is a running proxy.
type Proxy struct {
	// URL is the proxy's base, http://127.0.0.1:port.
	URL string

	srv      *http.Server
	ln       net.Listener
	stripped atomic.Int64
}

// Start proxies to target (http://host:port) until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// New proxies to target (http://host:port) until Close.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1, // streams (text/event-stream) pass at once
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			p.stripped.Add(1)
			r.Header.Del("Upgrade")
			r.Header.Del("Connection")
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Stripped returns how many upgrade requests the proxy has stripped.
func (p *Proxy) Stripped() int64 { return p.stripped.Load() }

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() { _ = p.srv.Close() }
