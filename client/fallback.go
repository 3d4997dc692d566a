package client

import "net/http"

// earlyFailures is how many consecutive WebSocket attempts that end before
// the greeting without a close code make a TransportAuto client fall back.
const earlyFailures = 2

// onSSE reports whether connections use SSE now.
func (c *Client) onSSE() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sse
}

// fallBack decides, after a failed WebSocket attempt e, whether a
// TransportAuto client switches to SSE, and reports whether it did. A
// handshake answered with a status Herald itself does not refuse a
// WebSocket with (a proxy that strips Upgrade gets a 400 or worse) switches
// at once; an attempt that connected but ended before the greeting without a
// close code counts, and earlyFailures of them in a row switch. Herald's own
// refusals (401, 403, 429, 503), close codes and an unreachable server do
// not: SSE would answer the same.
func (c *Client) fallBack(e *Error) bool {
	if c.opts.Transport != TransportAuto {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sse {
		return false
	}
	switch {
	case e.Status != 0:
		switch e.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests, http.StatusServiceUnavailable:
			c.early = 0
			return false
		}
	case e.early:
		if c.early++; c.early < earlyFailures {
			return false
		}
	default:
		c.early = 0
		return false
	}
	c.sse = true
	c.log.Info("herald client: the WebSocket cannot be established; falling back to SSE", "status", e.Status)
	return true
}
