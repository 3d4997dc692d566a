package session

import "time"

// limiter is a token bucket for one connection's inbound messages. It is used
// only by that connection's reader, so it needs no lock.
type limiter struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	now         func() time.Time
	strikes     int // refused messages since the bucket last had tokens
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

// allow takes a token. When there is none it counts a strike; persist reports
// that the client kept sending after being refused for a whole second's worth
// of messages, which ends the connection with 1008.
func (l *limiter) allow() (ok, persist bool) {
	t := l.now()
	l.tokens += t.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = t
	if l.tokens >= 1 {
		l.tokens--
		l.strikes = 0
		return true, false
	}
	l.strikes++
	return false, float64(l.strikes) > l.rate
}
