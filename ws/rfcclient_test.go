package ws_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// rfcConn is a WebSocket client written from RFC 6455 in this file alone:
// the handshake, masking and framing are built here byte by byte, and server
// frames are parsed here, so that nothing the server uses (gobwas/ws) checks
// the server. The hostile-input and conformance suites drive it because it
// sends whatever it is told to, however wrong.
type rfcConn struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// rfcDial opens a WebSocket to rawURL (ws://host/path?query) with extra
// request headers, and fails unless the server switches protocols. It does
// not read past the handshake response.
func rfcDial(t *testing.T, rawURL string, h http.Header) *rfcConn {
	t.Helper()
	c, err := tryRFCDial(t, rawURL, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryRFCDial(t *testing.T, rawURL string, h http.Header) (*rfcConn, error) {
	return tryRFCDialWith(t, &net.Dialer{Timeout: 5 * time.Second}, rawURL, h)
}

// rfcDialSmallWindow dials with a receive buffer of rcvbuf bytes set before
// the connection exists, so the window the server sees stays that small: a
// client that does not read then stops the server's writes at once.
func rfcDialSmallWindow(t *testing.T, rawURL string, rcvbuf int) *rfcConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		return errors.Join(err, serr)
	}}
	c, err := tryRFCDialWith(t, d, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryRFCDialWith(t *testing.T, d *net.Dialer, rawURL string, h http.Header) (*rfcConn, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", u.RequestURI(), u.Host)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(req.Bytes()); err != nil {
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	c := &rfcConn{t: t, nc: nc, br: br, resp: resp}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return c, fmt.Errorf("handshake answered %d %s", resp.StatusCode, body)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return c, fmt.Errorf("bad Sec-WebSocket-Accept %q", got)
	}
	return c, nil
}

// Opcodes and the bits of a frame's first byte (RFC 6455 section 5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
	bitFin   = 0x80
	bitRsv1  = 0x40
	bitRsv2  = 0x20
	bitRsv3  = 0x10
)

// wsFrame describes a client frame to build. Zero values make a final,
// masked frame with its true length.
type wsFrame struct {
	op      byte
	payload []byte
	notFin  bool
	rsv     byte  // bits to set among bitRsv1..3
	noMask  bool  // send unmasked (a protocol error)
	length  int64 // declared length when lie is set
	lie     bool  // declare length instead of len(payload)
	form    int   // force the length form: 7, 16 or 64 bits (0: shortest)
}

// bytes lays the frame out on the wire.
func (f wsFrame) bytes() []byte {
	b0 := f.op | f.rsv
	if !f.notFin {
		b0 |= bitFin
	}
	n := int64(len(f.payload))
	if f.lie {
		n = f.length
	}
	var b []byte
	b = append(b, b0)
	var maskBit byte
	if !f.noMask {
		maskBit = 0x80
	}
	form := f.form
	if form == 0 {
		switch {
		case n < 126:
			form = 7
		case n < 1<<16:
			form = 16
		default:
			form = 64
		}
	}
	switch form {
	case 7:
		b = append(b, maskBit|byte(n))
	case 16:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := append([]byte(nil), f.payload...)
	if !f.noMask {
		var key [4]byte
		rand.Read(key[:])
		b = append(b, key[:]...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return append(b, p...)
}

func text(s string) []byte { return wsFrame{op: opText, payload: []byte(s)}.bytes() }

// write sends raw bytes.
func (c *rfcConn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *rfcConn) mustWrite(b ...[]byte) {
	c.t.Helper()
	for _, x := range b {
		if err := c.write(x); err != nil {
			c.t.Fatalf("write: %v", err)
		}
	}
}

// srvFrame is a frame the server sent.
type srvFrame struct {
	fin  bool
	rsv  byte
	op   byte
	data []byte
}

// maxServerFrame bounds what the test client accepts from the server.
const maxServerFrame = 4 << 20

var errMaskedServerFrame = errors.New("server sent a masked frame")

// readFrame reads one server frame, checking what RFC 6455 asks of a server.
func (c *rfcConn) readFrame(d time.Duration) (srvFrame, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return srvFrame{}, err
	}
	f := srvFrame{fin: h[0]&bitFin != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f}
	if h[1]&0x80 != 0 {
		return f, errMaskedServerFrame
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		if _, err := io.ReadFull(c.br, x[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		if _, err := io.ReadFull(c.br, x[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(x[:])
	}
	if n > maxServerFrame {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.data = make([]byte, n)
	_, err := io.ReadFull(c.br, f.data)
	return f, err
}

// message is one server message: its opcode, whether it was compressed, and
// its payload (inflated when it was).
type message struct {
	op         byte
	compressed bool
	data       []byte
}

// readMessage reads the next data message, reassembling fragments, answering
// nothing and skipping pings and pongs. A close frame ends it with a
// *closeFrame error.
func (c *rfcConn) readMessage(d time.Duration) (message, error) {
	var m message
	var started bool
	for {
		f, err := c.readFrame(d)
		if err != nil {
			return m, err
		}
		switch f.op {
		case opPing, opPong:
			continue
		case opClose:
			return m, parseClose(f.data)
		case opText, opBinary:
			if started {
				return m, errors.New("server started a message inside another")
			}
			started, m.op, m.compressed = true, f.op, f.rsv&bitRsv1 != 0
			m.data = f.data
		case opCont:
			if !started {
				return m, errors.New("server sent a continuation without a start")
			}
			m.data = append(m.data, f.data...)
		default:
			return m, fmt.Errorf("server sent opcode %#x", f.op)
		}
		if f.fin {
			if m.compressed {
				r := flate.NewReader(io.MultiReader(bytes.NewReader(m.data), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
				out, err := io.ReadAll(r)
				if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
					return m, fmt.Errorf("inflating a server message: %w", err)
				}
				m.data = out
			}
			return m, nil
		}
	}
}

// closeFrame is the server's close frame, as an error ending a read.
type closeFrame struct {
	code   int // 1005 when the frame had no body
	reason string
	bad    string // what was wrong with the frame, if anything
}

func (e *closeFrame) Error() string { return fmt.Sprintf("close %d %q", e.code, e.reason) }

func parseClose(b []byte) *closeFrame {
	switch {
	case len(b) == 0:
		return &closeFrame{code: 1005}
	case len(b) == 1:
		return &closeFrame{code: 1005, bad: "one-byte close body"}
	}
	return &closeFrame{code: int(binary.BigEndian.Uint16(b)), reason: string(b[2:])}
}

// until reads messages until the server closes, and returns the close frame
// and the messages before it. The connection ending without a close frame
// fails the test.
func (c *rfcConn) until(d time.Duration) (*closeFrame, []message) {
	c.t.Helper()
	var ms []message
	for {
		m, err := c.readMessage(d)
		var cf *closeFrame
		if errors.As(err, &cf) {
			return cf, ms
		}
		if err != nil {
			c.t.Fatalf("connection ended without a close frame: %v (after %d messages %s)", err, len(ms), describe(ms))
		}
		ms = append(ms, m)
	}
}

// expectClose reads until the server's close frame and fails unless it has
// code. It answers the close, as a client should.
func (c *rfcConn) expectClose(code int) []message {
	c.t.Helper()
	cf, ms := c.until(5 * time.Second)
	if cf.code != code {
		c.t.Fatalf("closed with %d %q, want %d (after %s)", cf.code, cf.reason, code, describe(ms))
	}
	if cf.bad != "" {
		c.t.Fatalf("bad close frame: %s", cf.bad)
	}
	_ = c.write(wsFrame{op: opClose, payload: binary.BigEndian.AppendUint16(nil, uint16(code))}.bytes())
	return ms
}

// obj decodes a server message: JSON text, or MessagePack binary.
func (m message) obj() (map[string]any, error) {
	var v map[string]any
	var err error
	if m.op == opBinary {
		err = msgpack.Unmarshal(m.data, &v)
	} else {
		err = json.Unmarshal(m.data, &v)
	}
	return v, err
}

// next reads and decodes the next data message.
func (c *rfcConn) next() map[string]any {
	c.t.Helper()
	m, err := c.readMessage(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	v, err := m.obj()
	if err != nil {
		c.t.Fatalf("server message %q: %v", m.data, err)
	}
	return v
}

// nextType reads messages until one of type typ.
func (c *rfcConn) nextType(typ string) map[string]any {
	c.t.Helper()
	for {
		if v := c.next(); v["type"] == typ {
			return v
		}
	}
}

func describe(ms []message) string {
	var parts []string
	for _, m := range ms {
		s := string(m.data)
		if v, err := m.obj(); err == nil {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if len(s) > 120 {
			s = s[:120] + "…"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, " | ") + "]"
}

// compress deflates p as a permessage-deflate message without context
// takeover: raw DEFLATE, flushed, with the final 00 00 ff ff removed.
func compress(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}
