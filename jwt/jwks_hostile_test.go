package jwt_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/jwt"
)

// TestJWKSHostileResponses points a JWKS at an issuer that answers what an
// attacker on its path, or a broken issuer, would: endless and oversized
// bodies, a trickle, deep and malformed JSON, thousands of useless keys, a
// giant modulus, error statuses, a redirect to plain http. Each fetch must
// fail within its timeout, allocate a bounded amount, and keep the keys it
// had, so tokens the real keys signed still pass.
func TestJWKSHostileResponses(t *testing.T) {
	good := jwksOf(jwkOf("k1", &testKeys.rsa.PublicKey))
	var manyKeys strings.Builder
	manyKeys.WriteString(`{"keys":[`)
	for i := range 5000 {
		if i > 0 {
			manyKeys.WriteString(",")
		}
		fmt.Fprintf(&manyKeys, `{"kty":"oct","kid":"k%d","k":"c2VjcmV0"}`, i)
	}
	manyKeys.WriteString(`]}`)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer plain.Close()

	mode := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := <-mode
		mode <- m
		switch m {
		case "good":
			w.Write(good)
		case "endless":
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "2 MiB":
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`))
		case "trickle":
			for i := 0; r.Context().Err() == nil && i < 100; i++ {
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
			}
		case "nested 100k":
			w.Write([]byte(`{"keys":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`))
		case "malformed":
			w.Write([]byte(`{"keys":[{"kty":"RSA","n":`))
		case "5000 useless keys":
			w.Write([]byte(manyKeys.String()))
		case "giant modulus":
			w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"big","n":"` + strings.Repeat("_w", 300000) + `","e":"AQAB"}]}`))
		case "status 500":
			w.WriteHeader(500)
			w.Write(good)
		case "redirect to http":
			http.Redirect(w, r, plain.URL, http.StatusFound)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	client.Timeout = 0 // the JWKS's own timeout applies
	set := &jwt.JWKS{URL: srv.URL, Client: client, Timeout: 500 * time.Millisecond}
	mode <- "good"
	if err := set.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := trustedVerifier(jwt.TrustedIssuer{JWKS: set})
	tok := signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "k1", idpClaims())

	for _, m := range []string{"endless", "2 MiB", "trickle", "nested 100k", "malformed", "5000 useless keys", "giant modulus", "status 500", "redirect to http"} {
		<-mode
		mode <- m
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := set.Fetch(context.Background())
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: the fetch succeeded", m)
		}
		if took > 3*time.Second {
			t.Errorf("%s: the fetch took %v", m, took)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 12<<20 {
			t.Errorf("%s: the fetch allocated %d MiB", m, alloc>>20)
		}
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: the keys fetched before were lost: %v", m, err)
		}
	}
}
