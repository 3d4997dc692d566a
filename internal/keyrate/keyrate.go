// Package keyrate limits attempts per key — a client address, an account —
// with one token bucket each: every attempt takes a token, and tokens come
// back at a steady rate up to a burst. Buckets that are full again are swept,
// so keys that stop trying cost nothing. Herald uses it for connection
// attempts per address and for logins per address and per account.
package keyrate

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key. It is safe for concurrent use.
type Limiter struct {
	rate, burst float64 // tokens per second; bucket size
	now         func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter refilling rate tokens per second up to burst. A nil
// now means time.Now.
func New(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket), lastSweep: now()}
}

// Take spends a token of key's bucket. When there is none it returns false
// and how long until there will be one.
func (l *Limiter) Take(key string) (bool, time.Duration) {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if l.refill(b, t) >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = t
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: t}
		l.buckets[key] = b
	}
	b.tokens, b.last = l.refill(b, t), t
	if b.tokens < 1 {
		return false, time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	}
	b.tokens--
	return true, 0
}

// Wait reports how long until key's bucket holds a token, without spending
// one: 0 when Take would succeed now. It lets a caller refuse early and spend
// tokens only on some outcomes, such as failed authentications.
func (l *Limiter) Wait(key string) time.Duration {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	if tokens := l.refill(b, t); tokens < 1 {
		return time.Duration(math.Ceil((1 - tokens) / l.rate * float64(time.Second)))
	}
	return 0
}

// Len returns how many keys have a bucket, for tests and metrics.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) refill(b *bucket, t time.Time) float64 {
	return min(l.burst, b.tokens+t.Sub(b.last).Seconds()*l.rate)
}
