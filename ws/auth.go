package ws

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald/session"
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
		token, _ = session.AuthToken(fr.data)
		return token, 0
	}
}
