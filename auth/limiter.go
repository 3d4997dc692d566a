package auth

import (
	"math"
	"sync"
	"time"
)

// limiter keeps one token bucket per key (an account or a client address):
// each attempt takes a token, and tokens come back at rate per second up to
// burst. Buckets full again are swept, so keys that stop trying cost nothing.
type limiter struct {
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

func newLimiter(perMinute float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: perMinute / 60, burst: float64(burst), now: now, buckets: make(map[string]*bucket), lastSweep: now()}
}

// take spends a token of key's bucket. When there is none it returns false
// and how long until there will be one.
func (l *limiter) take(key string) (bool, time.Duration) {
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
	b.tokens = l.refill(b, t)
	b.last = t
	if b.tokens < 1 {
		wait := time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
		return false, wait
	}
	b.tokens--
	return true, 0
}

func (l *limiter) refill(b *bucket, t time.Time) float64 {
	return min(l.burst, b.tokens+t.Sub(b.last).Seconds()*l.rate)
}
