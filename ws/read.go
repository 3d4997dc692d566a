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
	// errUTF8Close is a client's close frame whose reason is not UTF-8.
	errUTF8Close = &closeError{code: herald.CloseInvalidPayload, reason: "Invalid UTF-8 in close reason"}
	errInflated  = &closeError{code: herald.CloseInvalidPayload, reason: "Invalid compressed data"}
)

// clientClosed reports that the client sent a close frame.
type clientClosed struct {
	code   int
	reason string
}

func (e *clientClosed) Error() string { return "closed by client" }

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
// a message it completes to handle. Control frames draw on the same budget as
// messages (WS_RATE_LIMIT): a refused ping is not answered.
func (c *conn) readFrame(r io.Reader, handle func([]byte)) error {
	f, err := c.rd.next(r)
	if err != nil {
		return err
	}
	c.touch()
	switch f.op {
	case ws.OpPing:
		if c.sess.Admit() {
			c.sendControl(ws.OpPong, f.data)
		}
	case ws.OpPong:
		c.sess.Admit()
	case ws.OpClose:
		return c.closeFromClient(f.data)
	case ws.OpText:
		if !c.isClosing() { // after our close frame only the client's matters
			handle(f.data)
		}
	}
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
		if !validCloseCode(code) {
			return errProtocol
		}
		if !utf8.Valid(body[2:]) {
			return errUTF8Close
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
