package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"
)

// CreateAttempts is how many times CreateNotification and
// CreateNotifications send a create that failed on the way (a lost
// connection, a timeout, 429 or 5xx) before they give up. The retries are
// safe because every create carries an idempotency key: a create the server
// committed before its answer was lost is answered again, not stored twice.
const CreateAttempts = 3

// createRetryDelay is the wait before retry n (1 for the first): 250ms,
// then 1s, unless the server asked for longer with Retry-After.
func createRetryDelay(n int, err error) time.Duration {
	d := 250 * time.Millisecond
	if n > 1 {
		d = time.Second
	}
	if e, ok := err.(*Error); ok && e.RetryAfter > d {
		d = e.RetryAfter
	}
	return d
}

// newIdempotencyKey returns a random key for a create that was given none.
func newIdempotencyKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// createWithRetry runs send with one idempotency key until it succeeds, fails
// for a reason a retry cannot fix, ctx ends, or CreateAttempts are spent.
func (a *API) createWithRetry(ctx context.Context, body any, hdr http.Header, out any) error {
	var err error
	for n := 1; ; n++ {
		err = a.call(ctx, "POST", "/api/notifications", hdr, body, out)
		if err == nil || !IsNetwork(err) || n == CreateAttempts {
			return err
		}
		t := time.NewTimer(createRetryDelay(n, err))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
