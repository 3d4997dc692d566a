package main

import (
	"context"
	"crypto/tls"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	apihttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/tlsreload"
)

// tlsTermination is the node terminating TLS itself (TLS_CERT_FILE): the
// certificate reloader and the SIGHUP channel that asks it to reload.
type tlsTermination struct {
	reloader *tlsreload.Reloader
	hangup   chan os.Signal
}

// TLSConfig is the certificate the node serves https and wss with, when it
// terminates TLS itself.
type TLSConfig struct {
	CertFile, KeyFile string
	ReloadInterval    time.Duration // 0: reload on SIGHUP only
}

var tlsSettings = []setting{
	{"TLS_CERT_FILE", "tls-cert", "", "PEM certificate chain, leaf first: serve https and wss on PORT (TLS 1.2 or later) instead of plain HTTP; reloaded on SIGHUP and when the file changes"},
	{"TLS_KEY_FILE", "tls-key", "", "PEM private key of TLS_CERT_FILE (required with it)"},
	{"TLS_RELOAD_INTERVAL", "tls-reload-interval", "10s", "how often the certificate and key files are checked for a change (0: reload on SIGHUP only)"},
}

func parseTLS(p *parser, c *Config) {
	c.TLS.CertFile = p.str("TLS_CERT_FILE")
	c.TLS.KeyFile = p.str("TLS_KEY_FILE")
	c.TLS.ReloadInterval = p.dur("TLS_RELOAD_INTERVAL", 0)
}

// checkTLS checks a certificate comes with its key and the key with its
// certificate.
func (c *Config) checkTLS(p *parser) {
	switch cert, key := c.TLS.CertFile, c.TLS.KeyFile; {
	case cert != "" && key == "":
		p.errorf("TLS_KEY_FILE is required with TLS_CERT_FILE")
	case key != "" && cert == "":
		p.errorf("TLS_CERT_FILE is required with TLS_KEY_FILE")
	}
}

// wireTLS loads TLS_CERT_FILE and TLS_KEY_FILE when they are set and returns
// the HTTP server's TLS settings; nil, for plain HTTP, when they are not. From
// here on SIGHUP asks for a reload instead of ending the process, so a
// reload sent as soon as the node listens is not lost.
func (a *app) wireTLS(reg prometheus.Registerer) (*tls.Config, error) {
	if a.cfg.TLS.CertFile == "" {
		// Nothing to reload: a SIGHUP (a closed terminal, a reload
		// sent by habit) must not end the node without a drain.
		signal.Ignore(syscall.SIGHUP)
		return nil, nil
	}
	loads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_tls_reloads_total",
		Help: "Certificate loads, by result: ok, or refused (invalid or expired; the previous pair stays in service).",
	}, []string{"result"})
	interval := a.cfg.TLS.ReloadInterval
	if interval == 0 {
		interval = -1 // tlsreload: no polling
	}
	t := &tlsTermination{hangup: make(chan os.Signal, 1)}
	r, err := tlsreload.New(tlsreload.Config{
		CertFile:     a.cfg.TLS.CertFile,
		KeyFile:      a.cfg.TLS.KeyFile,
		PollInterval: interval,
		Signals:      t.hangup,
		OnReload: func(err error) {
			result := "ok"
			if err != nil {
				result = "refused"
			}
			loads.WithLabelValues(result).Inc()
		},
		Logger: a.log,
	})
	if err != nil {
		return nil, err
	}
	t.reloader = r
	reg.MustRegister(loads, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_tls_certificate_expiry_timestamp_seconds",
		Help: "Expiry (NotAfter) of the certificate in service, in Unix seconds.",
	}, func() float64 { return float64(r.Leaf().NotAfter.Unix()) }))
	signal.Notify(t.hangup, syscall.SIGHUP)
	a.tlsTerm = t
	return apihttp.TLSConfig(r.GetCertificate), nil
}

// startTLS runs the reloader until ctx ends; wait waits for it to stop and
// stops catching SIGHUP. Without TLS both do nothing.
func (a *app) startTLS(ctx context.Context) (wait func()) {
	if a.tlsTerm == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.tlsTerm.reloader.Run(ctx) // failures are logged; the old pair stays
	}()
	return func() {
		<-done
		signal.Stop(a.tlsTerm.hangup)
	}
}

// wsScheme is the scheme clients connect with: wss when the node terminates
// TLS itself.
func (a *app) wsScheme() string {
	if a.tlsTerm != nil {
		return "wss"
	}
	return "ws"
}
