// Command healthcheck is the HEALTHCHECK of Herald's container image, which
// has no shell and no curl: it asks the server in the same container for
// /healthz and exits 0 when it answers 200, 1 otherwise.
//
// It reads the server's own settings from the environment: PORT (default
// 3007), HERALD_HOST (a specific listen address; loopback otherwise) and
// TLS_CERT_FILE (https when set). /healthz says the process serves; load
// balancers should use /readyz, which also checks the store and Redis, and
// a container should not be restarted for an outage of those.
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := probe(healthURL(os.Getenv), 3*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// healthURL is the server's /healthz on this host.
func healthURL(getenv func(string) string) string {
	port := getenv("PORT")
	if port == "" {
		port = "3007"
	}
	host := getenv("HERALD_HOST")
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if getenv("TLS_CERT_FILE") != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
}

// probe GETs u and succeeds on a 200 within timeout. Over https it does not
// check the certificate: it asks this container's own process whether it
// is alive, which its certificate (issued for a public name) cannot vouch
// for on a loopback address.
func probe(u string, timeout time.Duration) error {
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // loopback liveness probe
			DisableKeepAlives: true,
		},
	}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return nil
}
