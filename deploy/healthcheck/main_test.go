package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthURL(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://127.0.0.1:3007/healthz"},
		{map[string]string{"PORT": "8080", "HERALD_HOST": "0.0.0.0"}, "http://127.0.0.1:8080/healthz"},
		{map[string]string{"HERALD_HOST": "::"}, "http://127.0.0.1:3007/healthz"},
		{map[string]string{"HERALD_HOST": "10.1.2.3", "TLS_CERT_FILE": "/run/secrets/tls.crt"}, "https://10.1.2.3:3007/healthz"},
		{map[string]string{"HERALD_HOST": "::1"}, "http://[::1]:3007/healthz"},
	}
	for _, tc := range cases {
		if got := healthURL(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("healthURL(%v) = %s, want %s", tc.env, got, tc.want)
		}
	}
}

func TestProbe(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	})
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewTLSServer(h)
	defer secure.Close()

	for _, base := range []string{plain.URL, secure.URL} {
		if err := probe(base+"/healthz", 2*time.Second); err != nil {
			t.Errorf("probe %s: %v", base, err)
		}
	}
	status.Store(http.StatusServiceUnavailable)
	if err := probe(plain.URL+"/healthz", 2*time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("probe of a 503: %v", err)
	}
	closed := httptest.NewServer(h)
	closed.Close()
	if err := probe(closed.URL+"/healthz", 2*time.Second); err == nil {
		t.Error("probe of a closed port succeeded")
	}
}
