package tlsreload_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/tlsreload"
	"github.com/heraldhq/herald/tlsreload/tlstest"
)

// served returns the serial of the certificate a real TLS server using r
// presents to a client trusting ca.
func served(t *testing.T, r *tlsreload.Reloader, ca *tlstest.CA) int64 {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	conf := ca.ClientConfig()
	conf.ServerName = "localhost"
	c, err := tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// quiet drops the log lines of tests that do not read them.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNewRefusesWhatCannotBeServed(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	good := ca.Issue(t, 10, time.Time{})
	other := ca.Issue(t, 11, time.Time{})
	cases := []struct {
		name      string
		cert, key []byte
		now       func() time.Time
		want      string
	}{
		{"missing files", nil, nil, nil, "no such file"},
		{"key of another certificate", good.CertPEM, other.Key, nil, "does not match"},
		{"not PEM", []byte("hello"), good.Key, nil, "failed to find any PEM data"},
		{"expired", good.CertPEM, good.Key, func() time.Time { return time.Now().Add(48 * time.Hour) }, "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile := filepath.Join(dir, tc.name+".crt"), filepath.Join(dir, tc.name+".key")
			if tc.cert != nil {
				tlstest.WriteFile(t, certFile, tc.cert)
				tlstest.WriteFile(t, keyFile, tc.key)
			}
			_, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile, Logger: quiet, Now: tc.now})
			if err == nil {
				t.Fatal("New accepted the pair")
			}
			if herald.CodeOf(err) != herald.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (%s), want EINVALID mentioning %q", err, herald.CodeOf(err), tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the error shows key material: %v", err)
			}
		})
	}
	if _, err := tlsreload.New(tlsreload.Config{CertFile: "x.pem"}); err == nil {
		t.Error("New accepted a config without a key file")
	}
}

// TestCheckReloadsChangedFiles rotates the pair on disk and checks a real
// handshake presents the new serial only after a check, that an unchanged
// pair is not reloaded, and that an invalid one keeps the old in service.
func TestCheckReloadsChangedFiles(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 100, time.Time{}).Write(t, dir)
	logs := &logBuffer{}
	r, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, r, ca); got != 100 {
		t.Fatalf("serial %d, want 100", got)
	}
	if tried, err := r.Check(); tried || err != nil {
		t.Errorf("Check on unchanged files: tried %v, err %v", tried, err)
	}

	ca.Issue(t, 101, time.Time{}).Write(t, dir)
	if got := served(t, r, ca); got != 100 {
		t.Errorf("serial %d before the check, want still 100", got)
	}
	if tried, err := r.Check(); !tried || err != nil {
		t.Fatalf("Check after a rotation: tried %v, err %v", tried, err)
	}
	if got := served(t, r, ca); got != 101 {
		t.Errorf("serial %d after the check, want 101", got)
	}
	if r.Leaf().SerialNumber.Int64() != 101 {
		t.Errorf("Leaf serial %v", r.Leaf().SerialNumber)
	}

	// A renewal caught half-way: the new certificate, the old key.
	next := ca.Issue(t, 102, time.Time{})
	tlstest.WriteFile(t, certFile, next.CertPEM)
	tried, err := r.Check()
	if !tried || err == nil {
		t.Fatalf("Check on a mismatched pair: tried %v, err %v", tried, err)
	}
	if got := served(t, r, ca); got != 101 {
		t.Errorf("serial %d after a refused pair, want 101 kept", got)
	}
	if !strings.Contains(logs.String(), "previous one stays in service") {
		t.Errorf("the refusal was not logged:\n%s", logs.String())
	}
	// Not retried until a file changes again.
	if tried, _ := r.Check(); tried {
		t.Error("Check retried a refused pair whose files did not change")
	}
	tlstest.WriteFile(t, keyFile, next.Key)
	if tried, err := r.Check(); !tried || err != nil {
		t.Fatalf("Check after the key arrived: tried %v, err %v", tried, err)
	}
	if got := served(t, r, ca); got != 102 {
		t.Errorf("serial %d once the pair is whole, want 102", got)
	}

	// Files removed: the pair in service stays.
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if tried, err := r.Check(); !tried || err == nil {
		t.Errorf("Check with the certificate gone: tried %v, err %v", tried, err)
	}
	if got := served(t, r, ca); got != 102 {
		t.Errorf("serial %d with the files gone, want 102", got)
	}
}

// TestReloadRefusesExpired uses the injected clock: a renewal that has
// already expired is refused and the valid pair kept.
func TestReloadRefusesExpired(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 7, time.Now().Add(20*time.Hour)).Write(t, dir)
	now := time.Now()
	r, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile, Logger: quiet, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ca.Issue(t, 8, time.Now().Add(10*time.Hour)).Write(t, dir)
	now = now.Add(15 * time.Hour)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Reload of an expired pair: %v", err)
	}
	if got := served(t, r, ca); got != 7 {
		t.Errorf("serial %d, want 7 kept", got)
	}
}

// TestRunReloadsOnSignalAndTick drives Run through its two triggers.
func TestRunReloadsOnSignalAndTick(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1, time.Time{}).Write(t, dir)
	sigs := make(chan os.Signal)
	tick := make(chan time.Time)
	reloads := make(chan error, 10)
	r, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile, Logger: quiet,
		Signals: sigs, Tick: tick, OnReload: func(err error) { reloads <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-reloads; err != nil { // New's own load
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	// A signal reloads even when the files look unchanged to a poll.
	ca.Issue(t, 2, time.Time{}).Write(t, dir)
	sigs <- syscall.SIGHUP
	if err := <-reloads; err != nil {
		t.Fatalf("reload on signal: %v", err)
	}
	if got := served(t, r, ca); got != 2 {
		t.Errorf("serial %d after the signal, want 2", got)
	}

	// A tick checks the files.
	ca.Issue(t, 3, time.Time{}).Write(t, dir)
	tick <- time.Now()
	if err := <-reloads; err != nil {
		t.Fatalf("reload on tick: %v", err)
	}
	if got := served(t, r, ca); got != 3 {
		t.Errorf("serial %d after the tick, want 3", got)
	}
	// A tick with nothing changed loads nothing: the next event on the
	// channel is the one caused by the signal after it.
	tick <- time.Now()
	sigs <- syscall.SIGHUP
	if err := <-reloads; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reloads:
		t.Errorf("an extra load happened: %v", err)
	default:
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestRunWithoutPolling checks a negative PollInterval leaves only the
// signal: Run still stops with its context.
func TestRunWithoutPolling(t *testing.T) {
	ca := tlstest.NewCA(t)
	certFile, keyFile := ca.Issue(t, 1, time.Time{}).Write(t, t.TempDir())
	r, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile, Logger: quiet, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestGetCertificateConcurrentWithReload is for the race detector:
// handshakes go on while the pair is swapped.
func TestGetCertificateConcurrentWithReload(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1, time.Time{}).Write(t, dir)
	r, err := tlsreload.New(tlsreload.Config{CertFile: certFile, KeyFile: keyFile, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	leaves := []tlstest.Leaf{ca.Issue(t, 2, time.Time{}), ca.Issue(t, 3, time.Time{})}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A reload between the two renames below sees a mismatched
			// pair: refused, never served.
			_ = r.Reload()
		}
	}()
	for i := range 20 {
		leaves[i%2].Write(t, dir)
		if got := served(t, r, ca); got < 1 || got > 3 {
			t.Errorf("serial %d", got)
		}
	}
	close(stop)
	wg.Wait()
}
