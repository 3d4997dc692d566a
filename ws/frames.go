package ws

import (
	"io"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// MaxFragments is how many frames one client message may arrive in. A
// message in more closes the connection with 1009: each frame costs a header
// to parse, and endless empty fragments would otherwise never count against
// the message rate limit.
const MaxFragments = 1024

// errFragments is a message in more than MaxFragments frames.
var errFragments = &closeError{code: errTooLarge.code, reason: "Too many fragments"}

// msgReader turns a client's frames into messages. It is the only code that
// reads client bytes after the handshake, before or after authentication, and
// it allocates by what has arrived, never by what a header declares: a frame
// over the message limit is refused at its header, a payload is read into a
// buffer that grows as bytes come in, a compressed message inflates to at
// most the limit, and a MessagePack message is transcoded with every length
// checked against the bytes that remain (msgpackToJSON).
//
// A message being assembled lives here, on the connection, because a polled
// connection may read its frames on different goroutines; between
// messages the reader holds no buffer, so an idle connection costs nothing.
type msgReader struct {
	max     int  // largest message in bytes, after inflation
	deflate bool // permessage-deflate: RSV1 marks a message's first frame compressed
	msgpack bool // herald.msgpack: binary frames carry MessagePack

	hdr        [ws.MaxHeaderSize - 2]byte
	msg        []byte
	checked    int // bytes of msg known to be valid UTF-8
	frames     int // frames of the message so far
	inMessage  bool
	compressed bool
	binary     bool
}

// inFrame is what one frame yields: a control frame (OpPing, OpPong, OpClose)
// with its payload; OpText with a complete message as JSON, or nil data for a
// MessagePack message that could not be transcoded (answered "Failed to
// process message"); or OpContinuation for a fragment that completes nothing.
type inFrame struct {
	op   ws.OpCode
	data []byte
}

// withUnread returns a copy of e that records the n bytes of the frame left
// in the socket, for awaitClose to skip.
func withUnread(e *closeError, n int64) *closeError {
	c := *e
	c.unread = n
	return &c
}

// next reads one frame from r.
func (m *msgReader) next(r io.Reader) (inFrame, error) {
	h, err := ws.ReadHeaderBuffer(r, m.hdr[:])
	if err != nil {
		if err == ws.ErrHeaderLengthMSB || err == ws.ErrHeaderLengthUnexpected {
			return inFrame{}, errProtocol
		}
		return inFrame{}, err
	}
	// A frame refused at its header leaves its payload in the socket, for
	// awaitClose to skip rather than read as frames.
	if !h.Masked {
		return inFrame{}, withUnread(errProtocol, h.Length)
	}
	// RSV1 marks a compressed message, allowed only on its first frame
	// and only when permessage-deflate was negotiated.
	if h.Rsv != 0 && (h.Rsv != ws.Rsv(true, false, false) || !m.deflate ||
		h.OpCode.IsControl() || h.OpCode == ws.OpContinuation) {
		return inFrame{}, withUnread(errProtocol, h.Length)
	}
	switch h.OpCode {
	case ws.OpPing, ws.OpPong, ws.OpClose:
		if !h.Fin || h.Length > 125 {
			return inFrame{}, withUnread(errProtocol, h.Length)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return inFrame{}, err
		}
		ws.Cipher(payload, h.Mask, 0)
		return inFrame{op: h.OpCode, data: payload}, nil
	case ws.OpText, ws.OpBinary:
		if m.inMessage {
			return inFrame{}, withUnread(errProtocol, h.Length)
		}
		if h.OpCode == ws.OpBinary && !m.msgpack {
			return inFrame{}, withUnread(errBinary, h.Length)
		}
		m.inMessage, m.frames, m.checked = true, 0, 0
		m.compressed, m.binary = h.Rsv != 0, h.OpCode == ws.OpBinary
	case ws.OpContinuation:
		if !m.inMessage {
			return inFrame{}, withUnread(errProtocol, h.Length)
		}
	default:
		return inFrame{}, withUnread(errProtocol, h.Length)
	}
	if h.Length > int64(m.max-len(m.msg)) {
		return inFrame{}, withUnread(errTooLarge, h.Length)
	}
	if m.frames++; m.frames > MaxFragments {
		return inFrame{}, withUnread(errFragments, h.Length)
	}
	start := len(m.msg)
	if m.msg, err = readAppend(m.msg, r, int(h.Length)); err != nil {
		return inFrame{}, err
	}
	ws.Cipher(m.msg[start:], h.Mask, 0)
	if !m.compressed && !m.binary && !m.validSoFar(h.Fin) {
		return inFrame{}, errUTF8 // fail fast, without waiting for the rest
	}
	if !h.Fin {
		return inFrame{op: ws.OpContinuation}, nil
	}
	msg := m.msg
	m.msg, m.inMessage = nil, false
	if m.compressed {
		if msg, err = inflate(msg, m.max); err != nil {
			if err == errTooLarge {
				return inFrame{}, errTooLarge
			}
			return inFrame{}, errInflated
		}
		if !m.binary && !utf8.Valid(msg) {
			return inFrame{}, errUTF8
		}
	}
	if m.binary {
		msg, _ = msgpackToJSON(msg) // nil when invalid: "Failed to process message"
	}
	return inFrame{op: ws.OpText, data: msg}, nil
}

// validSoFar checks the UTF-8 of the text received since the last check,
// leaving a code point split by a fragment boundary for the next fragment,
// so every byte is checked once.
func (m *msgReader) validSoFar(fin bool) bool {
	end := len(m.msg)
	if !fin {
		// Back up to the start of the last code point if it is incomplete.
		for i := end - 1; i >= m.checked && i >= end-utf8.UTFMax; i-- {
			if !utf8.RuneStart(m.msg[i]) {
				continue
			}
			if !utf8.FullRune(m.msg[i:end]) {
				end = i
			}
			break
		}
	}
	if !utf8.Valid(m.msg[m.checked:end]) {
		return false
	}
	m.checked = end
	return true
}

// readAppend reads n bytes from r onto b. It grows b as the bytes arrive —
// by at most what b already holds, or 512 bytes — rather than by n at once,
// so a header that lies about its length costs memory only for the bytes
// that actually come.
func readAppend(b []byte, r io.Reader, n int) ([]byte, error) {
	for n > 0 {
		if len(b) == cap(b) {
			grow := min(n, max(512, cap(b)))
			b = append(b, make([]byte, grow)...)[:len(b)]
		}
		k := min(n, cap(b)-len(b))
		got, err := io.ReadFull(r, b[len(b):len(b)+k])
		b = b[:len(b)+got]
		n -= got
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
