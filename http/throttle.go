package http

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keyrate"
)

// DefaultAuthFailureLimit is Config.AuthFailureLimit's default: failed
// authentications per minute per client address on the server API and
// /metrics. A backend with the right key never fails; an attacker guessing
// keys gets ten tries a minute instead of thousands a second.
const DefaultAuthFailureLimit = 10

// authThrottle counts failed credentials per client address. Only failures
// spend tokens, so a backend's traffic is never slowed by its own success;
// but while an address has no token left every credential it presents is
// refused unchecked, or the 429 itself would tell a right guess from a wrong one.
type authThrottle struct {
	limiter *keyrate.Limiter
}

func newAuthThrottle(perMinute float64, now func() time.Time) *authThrottle {
	burst := max(1, int(math.Ceil(perMinute)))
	return &authThrottle{limiter: keyrate.New(perMinute/60, burst, now)}
}

// throttleKey is the bucket of a client address: the address itself for
// IPv4, its /64 for IPv6, since one host commonly holds a whole /64. Every
// authenticated request asks it, so an IPv4 address, which netip parses only
// in its one canonical form, is returned as given, without a copy.
func throttleKey(r *http.Request) string {
	host := clientIP(r)
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil || ip.Zone() != "":
		return host
	case ip.Is4():
		return host
	case ip.Is4In6():
		return ip.Unmap().String()
	}
	p, _ := ip.Prefix(64)
	return p.Addr().String() + "/64"
}

// errThrottled answers a client address that spent its failed attempts.
type errThrottled struct {
	err  *herald.Error
	wait time.Duration
}

func (e errThrottled) Error() string             { return e.err.Error() }
func (e errThrottled) Unwrap() error             { return e.err }
func (e errThrottled) RetryAfter() time.Duration { return e.wait }

func throttled(wait time.Duration) error {
	return errThrottled{herald.Errorf(herald.ERATELIMIT, "Too many failed authentications; retry later"), wait}
}

// guard checks r's credentials with check, within the address's allowance
// of failures. A refusal (ECREDENTIALS aside: a missing credential guesses
// nothing) spends a token and is logged, without the credential; once the
// allowance is spent the answer is 429 with Retry-After until it refills.
func (s *Server) guard(w http.ResponseWriter, r *http.Request, what string, check func() error) error {
	key := throttleKey(r)
	if wait := s.throttle.limiter.Wait(key); wait > 0 {
		s.log.Debug("http: authentication throttled", "addr", key, "method", r.Method, "path", r.URL.Path)
		return withRetryAfter(w, throttled(wait))
	}
	err := check()
	if code := herald.CodeOf(err); code != herald.ETOKEN && code != herald.EFORBIDDEN {
		return err
	}
	s.throttle.limiter.Take(key)
	if wait := s.throttle.limiter.Wait(key); wait > 0 {
		s.log.Warn("http: "+what+" refused; throttling the address", "addr", key, "method", r.Method, "path", r.URL.Path,
			"retryAfter", strconv.Itoa(int(math.Ceil(wait.Seconds())))+"s")
	} else {
		s.log.Warn("http: "+what+" refused", "addr", key, "method", r.Method, "path", r.URL.Path)
	}
	return err
}
