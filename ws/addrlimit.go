package ws

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// addrLimiter limits connection attempts per client address with one token
// bucket each, so that a flood from one address is refused with 429 before
// any upgrade or token check is paid for. Idle buckets are swept so the map
// stays small.
type addrLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newAddrLimiter(rate float64, burst int, now func() time.Time) *addrLimiter {
	return &addrLimiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket), lastSweep: now()}
}

func (l *addrLimiter) allow(addr string) bool {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if t.Sub(b.last) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = t
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{tokens: l.burst, last: t}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+t.Sub(b.last).Seconds()*l.rate)
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// clientIP is the request's peer address. Forwarding headers are not
// trusted: behind a proxy, the proxy is the peer and should limit itself.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
