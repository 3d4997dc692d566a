package jwt

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults of JWKS.
const (
	DefaultJWKSTimeout         = 5 * time.Second
	DefaultJWKSRefresh         = time.Hour
	DefaultJWKSMinRefresh      = time.Minute
	maxJWKSBytes               = 1 << 20
	defaultJWKSFailureRetryDiv = 10
)

// JWKS is a JSON Web Key Set fetched from a URL that the operator configured,
// cached, and refreshed: every Refresh period, and at most once per
// MinRefresh when a token names a kid the set does not hold (the issuer has
// rotated its keys). The URL comes from configuration only: the jku and x5u
// headers of tokens are never followed, since that would let a token choose
// the key that verifies it.
type JWKS struct {
	// URL is where the set is fetched, normally https.
	URL string
	// Client makes the requests (default: http.Client with Timeout). It is
	// copied, and the copy refuses redirects from https to plain http.
	Client *http.Client
	// Timeout bounds one fetch (default DefaultJWKSTimeout).
	Timeout time.Duration
	// Refresh is how often the set is fetched again (default DefaultJWKSRefresh).
	Refresh time.Duration
	// MinRefresh is the least time between two fetches caused by unknown
	// kids, so that tokens with made-up kids cannot make Herald hammer the
	// issuer (default DefaultJWKSMinRefresh).
	MinRefresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	fetchMu sync.Mutex // one fetch at a time

	mu      sync.RWMutex
	keys    []Key
	lastTry time.Time
}

func (j *JWKS) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *JWKS) timeout() time.Duration {
	if j.Timeout > 0 {
		return j.Timeout
	}
	return DefaultJWKSTimeout
}

// Keys returns the keys of the last successful fetch.
func (j *JWKS) Keys() []Key {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.keys
}

// Fetch loads the set now. On failure the keys fetched before stay in use.
func (j *JWKS) Fetch(ctx context.Context) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	j.mu.Lock()
	j.lastTry = j.now()
	j.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, j.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	client := &http.Client{Timeout: j.timeout()}
	if j.Client != nil {
		c := *j.Client
		client = &c
	}
	client.CheckRedirect = noDowngrade(client.CheckRedirect)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the JWKS: status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("fetching the JWKS: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return fmt.Errorf("the JWKS is larger than %d bytes", maxJWKSBytes)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
	return nil
}

// noDowngrade refuses redirects from https to anything else, and more than
// five in a row, then asks next (when set): keys that travel in the clear
// can be replaced on the way, whatever the configured URL said.
func noDowngrade(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= 5:
			return fmt.Errorf("the JWKS URL redirects more than 5 times")
		case via[0].URL.Scheme == "https" && req.URL.Scheme != "https":
			return fmt.Errorf("the JWKS URL redirects from https to %s", req.URL.Scheme)
		case next != nil:
			return next(req, via)
		}
		return nil
	}
}

// refreshForKid fetches the set again when a token names kid, the set lacks
// it, and MinRefresh has passed since the last fetch. It reports whether it
// fetched.
func (j *JWKS) refreshForKid(ctx context.Context, kid string) bool {
	min := j.MinRefresh
	if min <= 0 {
		min = DefaultJWKSMinRefresh
	}
	j.mu.RLock()
	due := j.now().Sub(j.lastTry) >= min
	j.mu.RUnlock()
	if !due || kid == "" {
		return false
	}
	for _, k := range j.Keys() {
		if k.ID == kid {
			return false
		}
	}
	return j.Fetch(ctx) == nil
}

// Run refreshes the set every Refresh until ctx ends, at once when it holds
// no keys yet; after a failed fetch it retries sooner (a tenth of Refresh, at
// least MinRefresh). onError, when not
// nil, hears of failures. It returns nil when ctx ends.
func (j *JWKS) Run(ctx context.Context, onError func(error)) error {
	every := j.Refresh
	if every <= 0 {
		every = DefaultJWKSRefresh
	}
	retry := max(every/defaultJWKSFailureRetryDiv, j.MinRefresh, time.Second)
	wait := every
	if len(j.Keys()) == 0 {
		wait = 0 // never fetched yet, or the first fetch failed
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := j.Fetch(ctx); err != nil {
			if onError != nil && ctx.Err() == nil {
				onError(err)
			}
			wait = retry
			continue
		}
		wait = every
	}
}
