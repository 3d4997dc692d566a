package client

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnection delays: Initial for the first failure,
// doubling on each further one up to Max, each shortened by a random part of
// up to Jitter of itself, so that many clients cut off together do not come
// back together, and no delay exceeds Max.
type backoff struct {
	Initial, Max time.Duration
	Jitter       float64 // fraction, 0 to 1
	rand         func() float64
}

// delay returns the wait before reconnection attempt n (1 for the first).
func (b backoff) delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		r := rand.Float64
		if b.rand != nil {
			r = b.rand
		}
		// Uniform in [d·(1-J), d].
		d = time.Duration(float64(d) * (1 - b.Jitter*r()))
	}
	return max(d, 0)
}
