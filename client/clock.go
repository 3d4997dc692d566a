package client

import "time"

// Clock is the time the client waits on: its backoff delays and its token
// refresh timer. Tests inject one to see and control every wait; the default
// is the system clock.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
