package ws

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
)

// authMsg is the first-message authentication, and the in-band refresh of an
// open connection's token: {"type":"auth","token":"…"}.
type authMsg struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// readAuth waits up to timeout for the first message, which must be an auth
// message, so that browsers need not put tokens in URLs (where proxies and
// histories log them). It may come in the connection's negotiated encoding —
// MessagePack, compressed — as every later message may. Anything else is
// "Missing authentication credentials".
func readAuth(nc net.Conn, rd io.Reader, timeout time.Duration, max int, f format) (string, error) {
	missing := herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials")
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	defer nc.SetReadDeadline(time.Time{})
	h, err := ws.ReadHeader(rd)
	switch {
	case err != nil, !h.Fin, !h.Masked, h.Length > int64(max):
		return "", missing
	case h.OpCode == ws.OpBinary && f&fmtMsgpack == 0, h.OpCode != ws.OpText && h.OpCode != ws.OpBinary:
		return "", missing
	case h.Rsv != 0 && (h.Rsv != ws.Rsv(true, false, false) || f&fmtDeflate == 0):
		return "", missing
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(rd, payload); err != nil {
		return "", missing
	}
	ws.Cipher(payload, h.Mask, 0)
	if h.Rsv != 0 {
		if payload, err = inflate(payload, max); err != nil {
			return "", missing
		}
	}
	if h.OpCode == ws.OpBinary {
		payload = msgpackToJSON(payload)
	}
	var m authMsg
	if !utf8.Valid(payload) || json.Unmarshal(payload, &m) != nil || m.Type != herald.TypeAuth || m.Token == "" {
		return "", missing
	}
	return m.Token, nil
}

// armExpiry closes the connection with 4002 when its token expires, ExpiryGrace
// after exp, unless an auth message refreshes it first.
func (c *conn) armExpiry(exp time.Time) {
	d := exp.Add(c.srv.cfg.ExpiryGrace).Sub(c.srv.cfg.Now())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.expiry = time.AfterFunc(max(d, 0), func() {
		c.srv.metrics.tokenExpiries.Inc()
		c.close(herald.CloseInvalidToken, "Invalid or expired token", false)
	})
}

func (c *conn) stopExpiry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// refresh handles an auth message on an open connection: a valid token for
// the same user replaces the old one and moves the expiry.
func (d *dispatcher) refresh(data []byte) {
	var m authMsg
	if json.Unmarshal(data, &m) != nil || strings.TrimSpace(m.Token) == "" {
		d.fail(herald.Errorf(herald.EINVALID, "auth needs a token"), "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claims, err := d.c.srv.cfg.Verifier.Verify(ctx, m.Token)
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
	d.c.claims = claims // read only by this goroutine
	d.c.armExpiry(claims.ExpiresAt)
	d.reply(authenticatedMsg{Type: herald.TypeAuthenticated, UserID: claims.UserID,
		ExpiresAt: herald.FormatTime(claims.ExpiresAt), Timestamp: d.now()})
}

type authenticatedMsg struct {
	Type      string `json:"type"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
	Timestamp string `json:"timestamp"`
}
