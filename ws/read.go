package ws

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
)

// closeError is a protocol failure that ends a connection with a close code.
// unread counts the bytes of the offending frame still in the socket.
type closeError struct {
	code   int
	reason string
	unread int64
}

func (e *closeError) Error() string { return e.reason }

var (
	errProtocol = &closeError{code: 1002, reason: "Protocol error"}
	errBinary   = &closeError{code: herald.CloseUnsupported, reason: "Binary messages are not supported"}
	errUTF8     = &closeError{code: herald.CloseInvalidPayload, reason: "Invalid UTF-8 in text message"}
	errTooLarge = &closeError{code: herald.CloseTooLarge, reason: "Message too large"}
)

// clientClosed reports that the client sent a close frame.
type clientClosed struct {
	code   int
	reason string
}

func (e *clientClosed) Error() string { return "closed by client" }

// readState is a message being assembled from fragments; it lives on the
// connection because, read on demand, its frames may arrive apart.
type readState struct {
	msg                           []byte
	inMessage, compressed, binary bool
}

// readLoop reads frames until the connection ends, answering control frames
// and handing each complete text message to handle. It returns why it ended.
func (c *conn) readLoop(r io.Reader, handle func([]byte)) error {
	for {
		if err := c.readFrame(r, handle); err != nil {
			return err
		}
	}
}

// readFrame reads one frame, answers it if it is a control frame, and hands
// a message it completes to handle.
func (c *conn) readFrame(r io.Reader, handle func([]byte)) error {
	st := &c.rs
	max := int64(c.srv.cfg.MaxMessageBytes)
	h, err := ws.ReadHeader(r)
	if err != nil {
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return errProtocol
		}
		return err
	}
	if !h.Masked {
		return errProtocol
	}
	// RSV1 marks a compressed message, allowed only on its first frame
	// and only when permessage-deflate was negotiated.
	if h.Rsv != 0 && (h.Rsv != ws.Rsv(true, false, false) || c.fmt&fmtDeflate == 0 ||
		h.OpCode.IsControl() || h.OpCode == ws.OpContinuation) {
		return errProtocol
	}
	if h.OpCode.IsControl() {
		if !h.Fin || h.Length > 125 {
			return errProtocol
		}
	} else if h.Length > max || int64(len(st.msg))+h.Length > max {
		return &closeError{errTooLarge.code, errTooLarge.reason, h.Length}
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return err
	}
	ws.Cipher(payload, h.Mask, 0)
	c.touch()

	switch h.OpCode {
	case ws.OpPing:
		c.sendControl(ws.OpPong, payload)
	case ws.OpPong:
	case ws.OpClose:
		return c.closeFromClient(payload)
	case ws.OpText, ws.OpBinary:
		if st.inMessage {
			return errProtocol
		}
		if h.OpCode == ws.OpBinary && c.fmt&fmtMsgpack == 0 {
			return errBinary
		}
		st.msg, st.inMessage = payload, !h.Fin
		st.compressed, st.binary = h.Rsv != 0, h.OpCode == ws.OpBinary
	case ws.OpContinuation:
		if !st.inMessage {
			return errProtocol
		}
		st.msg = append(st.msg, payload...)
		st.inMessage = !h.Fin
	default:
		return errProtocol
	}
	if !h.OpCode.IsData() || st.inMessage || st.msg == nil {
		return nil
	}
	msg := st.msg
	st.msg = nil
	if st.compressed {
		if msg, err = inflate(msg, int(max)); err != nil {
			if err == errTooLarge {
				return errTooLarge
			}
			return &closeError{code: 1007, reason: "Invalid compressed data"}
		}
	}
	if st.binary {
		msg = msgpackToJSON(msg)
	} else if !utf8.Valid(msg) {
		return errUTF8
	}
	handle(msg)
	return nil
}

// closeFromClient answers a client's close frame by echoing its code, as RFC
// 6455 asks, and reports that the client closed.
func (c *conn) closeFromClient(body []byte) error {
	code, reason := herald.CloseNormal, ""
	switch {
	case len(body) == 1:
		return errProtocol
	case len(body) >= 2:
		code = int(binary.BigEndian.Uint16(body))
		if !validCloseCode(code) || !utf8.Valid(body[2:]) {
			return errProtocol
		}
		reason = string(body[2:])
	}
	c.close(code, "", false)
	return &clientClosed{code, reason}
}

// validCloseCode reports whether a client may send code (RFC 6455 section 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	}
	return false
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
