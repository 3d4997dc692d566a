package safedial_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/safedial"
)

func TestAllowed(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "192.168.0.1": false, "172.16.5.5": false,
		"169.254.169.254": false, "fe80::1": false, "0.0.0.0": false, "::": false, "fc00::1": false,
		"100.64.0.1": false, "224.0.0.1": false, "::ffff:127.0.0.1": false,
	} {
		if got := safedial.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestClientRefusesLoopbackAndRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	_, err := safedial.Client(time.Second, false).Get(srv.URL)
	if !errors.Is(err, safedial.ErrForbidden) {
		t.Fatalf("GET of a loopback URL = %v, want ErrForbidden", err)
	}
	resp, err := safedial.Client(time.Second, true).Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("a redirect was followed: %d", resp.StatusCode)
	}
}
