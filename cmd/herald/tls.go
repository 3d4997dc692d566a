package main

import (
	"context"
	"crypto/tls"
	"fmt"
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

// validateTLS checks the TLS settings: a certificate needs its key and the
// key its certificate, and the reload interval is a duration (0: on SIGHUP
// only).
func (c config) validateTLS() error {
	cert, key := c["TLS_CERT_FILE"], c["TLS_KEY_FILE"]
	if cert != "" && key == "" {
		return fmt.Errorf("TLS_KEY_FILE is required with TLS_CERT_FILE")
	}
	if key != "" && cert == "" {
		return fmt.Errorf("TLS_CERT_FILE is required with TLS_KEY_FILE")
	}
	if d, err := time.ParseDuration(c["TLS_RELOAD_INTERVAL"]); err != nil || d < 0 {
		return fmt.Errorf("TLS_RELOAD_INTERVAL must be a duration such as 10s (0: reload on SIGHUP only), got %q", c["TLS_RELOAD_INTERVAL"])
	}
	return nil
}

// wireTLS loads TLS_CERT_FILE and TLS_KEY_FILE when they are set and returns
// the HTTP server's TLS settings; nil, for plain HTTP, when they are not. From
// here on SIGHUP asks for a reload instead of ending the process, so a
// reload sent as soon as the node listens is not lost.
func (a *app) wireTLS(reg prometheus.Registerer) (*tls.Config, error) {
	if a.cfg.str("TLS_CERT_FILE") == "" {
		// Nothing to reload: a SIGHUP (a closed terminal, a reload
		// sent by habit) must not end the node without a drain.
		signal.Ignore(syscall.SIGHUP)
		return nil, nil
	}
	loads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_tls_reloads_total",
		Help: "Certificate loads, by result: ok, or refused (invalid or expired; the previous pair stays in service).",
	}, []string{"result"})
	interval := a.cfg.dur("TLS_RELOAD_INTERVAL")
	if interval == 0 {
		interval = -1 // tlsreload: no polling
	}
	t := &tlsTermination{hangup: make(chan os.Signal, 1)}
	r, err := tlsreload.New(tlsreload.Config{
		CertFile:     a.cfg.str("TLS_CERT_FILE"),
		KeyFile:      a.cfg.str("TLS_KEY_FILE"),
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
