// Package tlsreload serves a TLS certificate and key from files and swaps in a
// new pair without a restart: when asked (SIGHUP, delivered by the caller on
// Config.Signals) and when either file changes on disk (polled), so that a
// renewal by certbot, cert-manager or a secrets agent is picked up by itself.
//
// A new pair that does not load, does not match, or has expired is refused and
// the previous one stays in service: a half-written renewal never takes a node
// off the air.
package tlsreload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// DefaultPollInterval is how often Run looks at the files when
// Config.PollInterval is zero: cheap (two stat calls), and soon enough for a
// renewal made days before expiry.
const DefaultPollInterval = 10 * time.Second

// Config configures a Reloader. CertFile and KeyFile are required; the zero
// value of every other field works.
type Config struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string
	// KeyFile is the PEM private key of the leaf.
	KeyFile string
	// PollInterval is how often Run checks whether either file changed
	// (default DefaultPollInterval). Negative turns the check off: the pair
	// is then reloaded only on a signal or a call of Reload.
	PollInterval time.Duration
	// Signals asks Run for a reload once per value received; the caller
	// hands it the channel it gave signal.Notify for SIGHUP. Nil: none. The
	// package never installs process signal handlers itself.
	Signals <-chan os.Signal
	// Tick, when set, drives Run's file checks instead of a ticker of
	// PollInterval, so tests decide when a check happens.
	Tick <-chan time.Time
	// OnReload, when set, is called after every load attempt with its
	// outcome (nil on success), for metrics.
	OnReload func(err error)
	// Logger receives one line per load and per refused pair (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock expiry is judged by (default time.Now).
	Now func() time.Time
}

// Reloader holds the pair in service. Its GetCertificate goes into a
// tls.Config; it is safe for concurrent use.
type Reloader struct {
	cfg Config
	log *slog.Logger

	cur atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serialises loads and guards seen
	seen stamp      // the files as they were at the last attempt
}

// New loads the pair and returns a Reloader serving it, or an error saying
// why the pair cannot be served.
func New(c Config) (*Reloader, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, herald.Errorf(herald.EINVALID, "tls: both a certificate file and a key file are required")
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	r := &Reloader{cfg: c, log: c.Logger}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the pair in service; it is the tls.Config hook.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Leaf returns the parsed leaf certificate in service, for logs and metrics.
func (r *Reloader) Leaf() *x509.Certificate {
	return r.cur.Load().Leaf
}

// Reload loads the pair from the files now. When the new pair is invalid it
// returns why and the previous pair stays in service.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked()
}

// Check reloads the pair if either file changed since the last attempt, and
// reports whether it tried. A pair that failed is not tried again until a
// file changes once more, so a bad renewal logs once rather than every poll.
func (r *Reloader) Check() (tried bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen.equal(r.stat()) {
		return false, nil
	}
	return true, r.reloadLocked()
}

// Run reloads on every signal and checks the files every PollInterval (or
// Tick) until ctx ends. It returns nil then; failures are logged and the
// previous pair kept.
func (r *Reloader) Run(ctx context.Context) error {
	tick := r.cfg.Tick
	if tick == nil && r.cfg.PollInterval > 0 {
		t := time.NewTicker(r.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-r.cfg.Signals:
			r.log.Info("tls: reloading the certificate", "signal", sig.String())
			_ = r.Reload() // logged by reloadLocked
		case <-tick:
			_, _ = r.Check()
		}
	}
}

// reloadLocked loads, validates and installs the pair; r.mu is held.
func (r *Reloader) reloadLocked() (err error) {
	// The files are stamped before they are read: a write that lands
	// after the read changes the stamp again, so Check tries once more.
	r.seen = r.stat()
	var cert *tls.Certificate
	cert, err = r.load()
	if r.cfg.OnReload != nil {
		defer func() { r.cfg.OnReload(err) }() // once the outcome is in service
	}
	if err != nil {
		if r.cur.Load() != nil {
			r.log.Error("tls: new certificate refused; the previous one stays in service", "err", err)
		}
		return err
	}
	prev := r.cur.Swap(cert)
	if prev == nil || !samePair(prev, cert) {
		r.log.Info("tls: certificate in service", "subject", cert.Leaf.Subject.String(),
			"serial", cert.Leaf.SerialNumber.Text(16), "notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// load reads the pair and refuses one that cannot be served.
func (r *Reloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		// The error names the files and what is wrong with them, never
		// their content.
		return nil, herald.Errorf(herald.EINVALID, "tls: loading %s and %s: %v", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, herald.Errorf(herald.EINVALID, "tls: parsing %s: %v", r.cfg.CertFile, err)
		}
	}
	if now := r.cfg.Now(); now.After(cert.Leaf.NotAfter) {
		return nil, herald.Errorf(herald.EINVALID, "tls: the certificate in %s expired at %s",
			r.cfg.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// samePair reports whether a and b hold the same certificate chain.
func samePair(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if string(a.Certificate[i]) != string(b.Certificate[i]) {
			return false
		}
	}
	return true
}
