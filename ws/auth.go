package ws

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
)

// readAuth waits up to timeout for the first message, which must be an auth
// message, so that browsers need not put tokens in URLs (where proxies and
// histories log them). It may come in the connection's negotiated encoding —
// MessagePack, compressed, fragmented — as every later message may, and is
// read by the same bounded reader. Anything else, a control frame included,
// is "Missing authentication credentials". unread counts the bytes of a
// refused frame still in the socket.
func readAuth(nc net.Conn, rd io.Reader, timeout time.Duration, max int, f format) (token string, unread int64) {
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	defer nc.SetReadDeadline(time.Time{})
	r := msgReader{max: max, deflate: f&fmtDeflate != 0, msgpack: f&fmtMsgpack != 0}
	for {
		fr, err := r.next(rd)
		var ce *closeError
		switch {
		case errors.As(err, &ce):
			return "", ce.unread
		case err != nil:
			return "", 0
		case fr.op == ws.OpContinuation:
			continue // a fragment of the message
		case fr.op != ws.OpText:
			return "", 0
		}
		in, err := parseInbound(fr.data)
		if err != nil || in.Type != herald.TypeAuth {
			return "", 0
		}
		token, _ = stringField(in.Token)
		return token, 0
	}
}

// armExpiry schedules the ends of a token's rights with one timer: at exp its
// channel grants lapse (see expired); ExpiryGrace later, unless an auth
// message brings a newer token first, the connection closes with 4002. A
// negative ExpiryGrace keeps the connection open, but the grants still lapse.
// Callers hold subMu, or own the connection alone.
func (c *conn) armExpiry(claims *herald.Claims) {
	c.setExpiry(claims.ExpiresAt, func() { c.expired(claims) })
}

// setExpiry replaces the connection's expiry timer with one running f at t.
func (c *conn) setExpiry(t time.Time, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.expiry = time.AfterFunc(max(t.Sub(c.srv.cfg.Now()), 0), f)
}

func (c *conn) stopExpiry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// Reasons the server gives when it ends a subscription by itself, in an
// {"type":"unsubscribed","reason":…} message.
const (
	// ReasonGrantRevoked: an in-band refresh brought a token that does not
	// allow the channel.
	ReasonGrantRevoked = "grant_revoked"
	// ReasonTokenExpired: the token whose channels claim allowed the
	// channel reached its exp.
	ReasonTokenExpired = "token_expired"
)

// grantsLocked is what the channel policy checks a subscription against:
// the token's claims, or, once the token is past its exp, only the user —
// what a token with no channels claim would allow.
func (c *conn) grantsLocked() *herald.Claims {
	if c.lapsed || !c.srv.cfg.Now().Before(c.claims.ExpiresAt) {
		return &herald.Claims{UserID: c.user, ExpiresAt: c.claims.ExpiresAt}
	}
	return c.claims
}

// expired runs at a token's exp: unless a refresh has replaced the token, the
// subscriptions only its channels claim allowed end, and the connection lives
// out its grace with what any token of the user allows, then closes.
func (c *conn) expired(claims *herald.Claims) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.claims != claims || c.tornDown.Load() {
		return // refreshed meanwhile, or gone
	}
	c.lapsed = true
	c.recheckLocked(ReasonTokenExpired)
	if c.srv.cfg.ExpiryGrace < 0 {
		return
	}
	c.setExpiry(claims.ExpiresAt.Add(c.srv.cfg.ExpiryGrace), func() {
		c.srv.metrics.tokenExpiries.Inc()
		c.close(herald.CloseInvalidToken, "Invalid or expired token", false)
	})
}

// recheckLocked applies the channel policy to every subscription again and
// ends, with an unsubscribed message giving reason, those it now refuses.
func (c *conn) recheckLocked(reason string) {
	grants := c.grantsLocked()
	for ch := range c.subs {
		if c.srv.cfg.Channels.allow(grants, ch) == nil {
			continue
		}
		c.srv.cfg.Hub.Unsubscribe(c, ch)
		delete(c.subs, ch)
		c.sendData(encode(channelMsg{Type: herald.TypeUnsubscribed, Channel: ch, Reason: reason,
			Timestamp: herald.FormatTime(c.srv.cfg.Now())}), false)
	}
}

// refresh handles an auth message on an open connection: a valid token for
// the same user replaces the old one, moves the expiry, and re-checks every
// subscription against the new token's grants.
func (d *dispatcher) refresh(in *inbound) {
	token, ok := stringField(in.Token)
	if !ok || strings.TrimSpace(token) == "" {
		d.fail(herald.Errorf(herald.EINVALID, "auth needs a token"), "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claims, err := d.c.srv.cfg.Verifier.Verify(ctx, token)
	switch {
	case err != nil:
		d.c.srv.metrics.authFailures.WithLabelValues("refresh").Inc()
		d.fail(herald.Errorf(herald.ETOKEN, "Invalid or expired token"), "")
		return
	case claims.UserID != d.c.user:
		d.c.srv.metrics.authFailures.WithLabelValues("mismatch").Inc()
		d.fail(herald.Errorf(herald.EMISMATCH, "User ID mismatch"), "")
		return
	}
	c := d.c
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.claims, c.lapsed = claims, false
	c.armExpiry(claims)
	d.reply(authenticatedMsg{Type: herald.TypeAuthenticated, UserID: claims.UserID,
		ExpiresAt: herald.FormatTime(claims.ExpiresAt), Timestamp: d.now()})
	c.recheckLocked(ReasonGrantRevoked)
}

type authenticatedMsg struct {
	Type      string `json:"type"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
	Timestamp string `json:"timestamp"`
}
