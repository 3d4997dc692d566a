package http_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/tlsreload/tlstest"
)

// tlsServer serves a Server with TLS on a loopback port with a certificate
// of ca, until the test ends.
func tlsServer(t *testing.T, ca *tlstest.CA, conf *tls.Config) *heraldhttp.Server {
	t.Helper()
	leaf := ca.Issue(t, 42, time.Time{})
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	if conf == nil {
		conf = heraldhttp.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
	} else {
		conf.Certificates = []tls.Certificate{cert}
	}
	s := heraldhttp.NewServer(heraldhttp.Config{Addr: "127.0.0.1:0", TLS: conf, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("GET /hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("a request came without TLS")
		}
		io.WriteString(w, "hello over "+r.Proto)
	}))
	serveUntilCleanup(t, s)
	return s
}

func httpsClient(t *testing.T, conf *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// TestTLSServes checks the server terminates TLS 1.2+ with HTTP/1.1 by ALPN,
// even to a client that would prefer h2, for the API and mounted handlers.
func TestTLSServes(t *testing.T) {
	ca := tlstest.NewCA(t)
	s := tlsServer(t, ca, nil)
	c := httpsClient(t, ca.ClientConfig())
	for _, path := range []string{"/healthz", "/hello"} {
		resp, err := c.Get("https://" + s.Addr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Fatalf("GET %s = %d %s (TLS %v)", path, resp.StatusCode, body, resp.TLS != nil)
		}
		if resp.TLS.Version < tls.VersionTLS12 || resp.TLS.NegotiatedProtocol != "http/1.1" || resp.ProtoMajor != 1 {
			t.Errorf("GET %s: version %x, ALPN %q, proto %s", path, resp.TLS.Version, resp.TLS.NegotiatedProtocol, resp.Proto)
		}
	}
}

// TestTLSRefusesOldAndPlain checks the floor holds even when the caller's
// config asks for less, and that plain HTTP to the TLS port gets nothing
// but a refusal.
func TestTLSRefusesOldAndPlain(t *testing.T) {
	ca := tlstest.NewCA(t)
	s := tlsServer(t, ca, &tls.Config{MinVersion: tls.VersionTLS10, NextProtos: []string{"h2", "http/1.1"}})

	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := httpsClient(t, old).Get("https://" + s.Addr() + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	resp, err := httpsClient(t, ca.ClientConfig()).Get("https://" + s.Addr() + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("with h2 in the caller's NextProtos: proto %s, ALPN %q", resp.Proto, resp.TLS.NegotiatedProtocol)
	}

	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = plain.Get("http://" + s.Addr() + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("plain HTTP to the TLS port = %d %s", resp.StatusCode, body)
		}
	}
}
