package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald/tlsreload/tlstest"
)

// startTLSProc runs the binary with TLS on a free loopback port and waits
// until it serves /healthz over HTTPS to a client trusting ca.
func startTLSProc(t *testing.T, env map[string]string, ca *tlstest.CA) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := launch(t, strconv.Itoa(freePort(t)), env, "herald")
		if err != nil {
			t.Fatal(err)
		}
		err = waitHTTPS(p, ca)
		if err == nil {
			return p
		}
		if attempt == 3 || !strings.Contains(p.stderr.String(), "address already in use") {
			t.Fatalf("%v\n%s", err, p.stderr.String())
		}
	}
}

// waitHTTPS waits for the listening line naming wss and the address, then
// for /healthz over HTTPS.
func waitHTTPS(p *proc, ca *tlstest.CA) error {
	return p.waitServing(httpsClient(p.t, ca), "https://"+p.addr+"/healthz",
		`msg="herald listening" addr=`+p.addr+` ws=wss://`+p.addr+`/ws`)
}

func httpsClient(t *testing.T, ca *tlstest.CA) *http.Client {
	// ForceAttemptHTTP2 offers h2 by ALPN, which the server must decline.
	tr := &http.Transport{TLSClientConfig: ca.ClientConfig(), DisableKeepAlives: true, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// getHTTPS fetches u over HTTPS trusting ca and returns the response and
// its body.
func getHTTPS(t *testing.T, ca *tlstest.CA, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey) // /metrics wants it in production
	resp, err := httpsClient(t, ca).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp, body.String()
}

// servedSerial is the serial of the certificate a fresh handshake gets.
func servedSerial(t *testing.T, addr string, ca *tlstest.CA) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, ca.ClientConfig())
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// dialWSS connects user over wss:// trusting ca, checks the greeting and
// returns the client and the serial the handshake presented.
func dialWSS(t *testing.T, addr, user string, ca *tlstest.CA) (*wsClient, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: ca.ClientConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	u := fmt.Sprintf("wss://%s/ws?token=%s&userId=%s", addr, token(t, testSecret, user), user)
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatal("the wss handshake has no TLS state")
	}
	wc := &wsClient{t: t, c: c}
	if m := wc.read(); m["type"] != "connected" || m["userId"] != user {
		t.Fatalf("first message over wss = %v", m)
	}
	return wc, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func tlsEnv(dir, certFile, keyFile, interval string) map[string]string {
	env := procEnv(filepath.Join(dir, "herald.db"))
	env["TLS_CERT_FILE"], env["TLS_KEY_FILE"], env["TLS_RELOAD_INTERVAL"] = certFile, keyFile, interval
	return env
}

// TestTLSServesWSS: with a certificate and key the binary serves wss:// and
// https:// (TLS 1.2 or later, HTTP/1.1), and plain ws:// to that port fails.
func TestTLSServesWSS(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1001, time.Time{}).Write(t, dir)
	p := startTLSProc(t, tlsEnv(dir, certFile, keyFile, "0"), ca)

	alice, serial := dialWSS(t, p.addr, "alice", ca)
	if serial != 1001 {
		t.Errorf("wss handshake presented serial %d, want 1001", serial)
	}
	alice.send(map[string]any{"type": "ping"})
	alice.expect("pong")

	resp, body := getHTTPS(t, ca, "https://"+p.addr+"/metrics")
	if resp.TLS.Version < tls.VersionTLS12 || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("TLS version %x, ALPN %q", resp.TLS.Version, resp.TLS.NegotiatedProtocol)
	}
	m := parseMetrics(t, body)
	if m[`herald_tls_reloads_total{result="ok"}`] != 1 || m["herald_tls_certificate_expiry_timestamp_seconds"] < float64(time.Now().Unix()) {
		t.Errorf("TLS metrics: reloads %v, expiry %v", m[`herald_tls_reloads_total{result="ok"}`], m["herald_tls_certificate_expiry_timestamp_seconds"])
	}

	// Plain WebSocket and plain HTTP to the TLS port are refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := fmt.Sprintf("ws://%s/ws?token=%s&userId=bob", p.addr, token(t, testSecret, "bob"))
	if c, _, err := websocket.Dial(ctx, u, nil); err == nil {
		c.CloseNow()
		t.Error("a plain ws:// connection to the TLS port was accepted")
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + p.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP to the TLS port was served")
		}
	}
	_, data := getHTTPS(t, ca, "https://"+p.addr+"/metrics")
	if n := parseMetrics(t, data)["herald_ws_connects_total"]; n != 1 {
		t.Errorf("herald_ws_connects_total = %v, want 1 (alice only)", n)
	}
}

// TestTLSRotationOnFileChange replaces the pair on disk: new handshakes get
// the new serial without a restart, and the socket opened before stays up.
func TestTLSRotationOnFileChange(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 2001, time.Time{}).Write(t, dir)
	p := startTLSProc(t, tlsEnv(dir, certFile, keyFile, "50ms"), ca)

	alice, serial := dialWSS(t, p.addr, "alice", ca)
	if serial != 2001 {
		t.Fatalf("serial before the rotation %d, want 2001", serial)
	}
	ca.Issue(t, 2002, time.Time{}).Write(t, dir)
	waitFor(t, 10*time.Second, "the rotated certificate", func() bool { return servedSerial(t, p.addr, ca) == 2002 })
	if _, serial := dialWSS(t, p.addr, "bob", ca); serial != 2002 {
		t.Errorf("wss after the rotation presented %d, want 2002", serial)
	}
	alice.send(map[string]any{"type": "ping"})
	alice.expect("pong")
	if !strings.Contains(p.stderr.String(), "serial=7d2") { // 2002
		t.Errorf("the rotation is not in the log:\n%s", p.stderr.String())
	}
}

// TestTLSRotationOnSIGHUP turns polling off: a new pair on disk is served
// once SIGHUP asks for it, the process keeps running, and an invalid pair is
// refused with the previous one kept.
func TestTLSRotationOnSIGHUP(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 3001, time.Time{}).Write(t, dir)
	p := startTLSProc(t, tlsEnv(dir, certFile, keyFile, "0"), ca)
	alice, _ := dialWSS(t, p.addr, "alice", ca)

	ca.Issue(t, 3002, time.Time{}).Write(t, dir)
	if got := servedSerial(t, p.addr, ca); got != 3001 {
		t.Fatalf("with polling off the new pair was served (%d) before SIGHUP", got)
	}
	p.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the certificate reloaded on SIGHUP", func() bool { return servedSerial(t, p.addr, ca) == 3002 })

	// A renewal gone wrong: a key that is not the certificate's.
	next := ca.Issue(t, 3003, time.Time{})
	tlstest.WriteFile(t, certFile, next.CertPEM)
	p.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(p.stderr.String(), "previous one stays in service")
	})
	if got := servedSerial(t, p.addr, ca); got != 3002 {
		t.Errorf("after a refused pair the server presents %d, want 3002 kept", got)
	}
	alice.send(map[string]any{"type": "ping"})
	alice.expect("pong")
	select {
	case <-p.done:
		t.Fatalf("SIGHUP ended the process: %v", p.err)
	default:
	}
	if strings.Contains(p.stderr.String(), "PRIVATE KEY") {
		t.Error("key material in the log")
	}

	// SIGTERM still drains: the socket gets 1001 and the process exits 0.
	p.signal(syscall.SIGTERM)
	if code, _, _ := alice.closeStatus(); code != websocket.StatusGoingAway {
		t.Errorf("close on SIGTERM = %d, want 1001", code)
	}
	if code := p.wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestTLSSettingsRefused checks incomplete or unloadable TLS settings stop
// the program before it serves, naming what is wrong.
func TestTLSSettingsRefused(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1, time.Time{}).Write(t, dir)
	other := ca.Issue(t, 2, time.Time{})
	otherKey := filepath.Join(dir, "other.key")
	tlstest.WriteFile(t, otherKey, other.Key)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"certificate without key", map[string]string{"TLS_CERT_FILE": certFile}, "TLS_KEY_FILE"},
		{"key without certificate", map[string]string{"TLS_KEY_FILE": keyFile}, "TLS_CERT_FILE"},
		{"bad interval", map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "TLS_RELOAD_INTERVAL": "often"}, "TLS_RELOAD_INTERVAL"},
		{"missing file", map[string]string{"TLS_CERT_FILE": filepath.Join(dir, "nope.pem"), "TLS_KEY_FILE": keyFile}, "nope.pem"},
		{"mismatched key", map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": otherKey}, "does not match"},
	}
	// Some settings are checked before the store opens, the files after:
	// the context must let the program get that far. Should it start, it
	// serves until the deadline and returns nil, which fails the case.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := procEnv(filepath.Join(t.TempDir(), "h.db"))
			env["PORT"], env["HERALD_HOST"] = "0", "127.0.0.1"
			for k, v := range tc.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			err := run(ctx, nil, mapEnv(env), &stdout, &stderr)
			if err == nil {
				t.Fatal("the program started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
}
