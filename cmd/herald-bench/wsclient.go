package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	gojwt "github.com/golang-jwt/jwt/v5"
)

// client is one benchmark WebSocket connection, held by a worker. Its reader
// goroutine owns every field below nc/br.
type client struct {
	w    *worker
	idx  int // global connection index
	node int // index of its node in job.URLs
	nc   net.Conn
	br   *bufio.Reader
	buf  []byte // payload buffer, reused
	sse  bool   // an event stream (sseclient.go), not a WebSocket

	round    int64    // fan-out round the counters below belong to
	got      int64    // messages of round received, without duplicates
	last     int64    // greatest seq of round received
	seen     []uint64 // bit seq is set once seq of round was received
	complete bool     // got reached the round's expectation

	// topic: the unread count of the greatest version received, as the
	// clients keep it (docs/protocol.md).
	count, version atomic.Int64
}

// sourceIP spreads connections over loopback source addresses 127.0.X.Y
// (X ≥ 1, so never 127.0.0.1): a few connections per address, so no address
// runs out of ephemeral ports however many runs follow each other while old
// sockets sit in TIME_WAIT.
func sourceIP(idx int) net.IP {
	return net.IPv4(127, 0, byte(1+(idx/250)%254), byte(2+idx%250))
}

// userID names the user of connection idx.
func (j *job) userID(idx int) string { return j.UserPrefix + strconv.Itoa(idx) }

// mintToken signs a connection token for user, as a backend would: HS256 with
// userId, sub, iat and exp.
func mintToken(secret, user string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := gojwt.MapClaims{"userId": user, "sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	return gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// errRefused marks a connection the server turned down (close frame or
// unexpected first message): retrying would not help.
var errRefused = errors.New("refused")

// refusal is an errRefused that says how: the close code of the server's
// close frame (0 without one), or the code of a Centrifugo error reply.
// The churn workload tells expected refusals from others by these codes.
type refusal struct {
	Close  int    // close frame's code, 1005 for a close frame without one
	Code   int    // Centrifugo error reply's code
	Detail string // the rest, for the message
}

func (r *refusal) Error() string {
	switch {
	case r.Close != 0 && r.Detail != "":
		return fmt.Sprintf("%v: close %d %s", errRefused, r.Close, r.Detail)
	case r.Close != 0:
		return fmt.Sprintf("%v: close %d", errRefused, r.Close)
	case r.Code != 0:
		return fmt.Sprintf("%v: error %d %s", errRefused, r.Code, r.Detail)
	}
	return fmt.Sprintf("%v: %s", errRefused, r.Detail)
}

func (r *refusal) Unwrap() error { return errRefused }

// closeCode reads a close frame's payload: its code, 1005 when it has none.
func closeCode(p []byte) int {
	if len(p) >= 2 {
		return int(p[0])<<8 | int(p[1])
	}
	return 1005
}

// dialClient opens connection idx of j and, unless the mode is raw, waits for
// "connected" (and "subscribed" in fan-out mode).
func dialClient(ctx context.Context, w *worker, idx int) (*client, error) {
	j := &w.job
	if j.Transport == "sse" {
		return dialSSE(ctx, w, idx)
	}
	u := j.url(idx)
	var token string
	if j.Mode != modeRaw {
		user := j.userID(idx)
		tok, err := mintToken(j.JWTSecret, user, j.Lifetime+time.Hour)
		if err != nil {
			return nil, err
		}
		token = tok
		if j.Proto != protoCentrifugo {
			u = withQueryToken(u, user, tok)
		}
	}
	c, err := dialWS(ctx, w, idx, u)
	if err != nil {
		return nil, err
	}
	if j.Mode == modeRaw {
		return c, nil
	}
	channel := ""
	if j.Mode == modeFanout && !j.NoSubscribe {
		channel = j.channelOf(idx)
	}
	_ = c.nc.SetDeadline(time.Now().Add(j.DialTimeout))
	if j.Proto == protoCentrifugo {
		err = c.cfHandshake(token, channel)
	} else {
		err = c.heraldHandshake(channel)
	}
	if err != nil {
		c.nc.Close()
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return c, nil
}

// withQueryToken is Herald's WebSocket URL u with the token and user id in
// its query, as the design document's clients send them.
func withQueryToken(u, user, token string) string {
	return u + "?token=" + url.QueryEscape(token) + "&userId=" + url.QueryEscape(user)
}

// heraldHandshake waits for "connected" and, with a channel, subscribes to
// it and waits for "subscribed".
func (c *client) heraldHandshake(channel string) error {
	if err := c.expect(`"type":"connected"`); err != nil {
		return err
	}
	if channel == "" {
		return nil
	}
	if err := c.write(ws.OpText, fmt.Appendf(nil, `{"type":"subscribe","channel":%q}`, channel)); err != nil {
		return err
	}
	return c.expect(`"type":"subscribed"`)
}

// dialWS opens a WebSocket to u for connection idx, from its own loopback
// source address, and returns it as a client that has read nothing yet.
func dialWS(ctx context.Context, w *worker, idx int, u string) (*client, error) {
	j := &w.job
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceIP(idx)}, Timeout: j.DialTimeout}
	d := ws.Dialer{Timeout: j.DialTimeout, NetDial: nd.DialContext}
	nc, hbr, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c := &client{w: w, idx: idx, node: j.node(idx), nc: nc, buf: make([]byte, 512), last: -1}
	var rd io.Reader = nc
	if hbr != nil && hbr.Buffered() > 0 { // frames that came with the handshake
		early, _ := hbr.Peek(hbr.Buffered())
		rd = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
	if hbr != nil {
		ws.PutReader(hbr)
	}
	c.br = bufio.NewReaderSize(rd, 2048)
	return c, nil
}

// expect reads messages until one contains marker; an error message or a
// close frame refuses the connection.
func (c *client) expect(marker string) error {
	for range 16 {
		op, p, err := c.readMessage()
		if err != nil {
			return err
		}
		switch {
		case op == ws.OpClose:
			return &refusal{Close: closeCode(p)}
		case bytes.Contains(p, []byte(marker)):
			return nil
		case bytes.Contains(p, []byte(`"type":"error"`)):
			return fmt.Errorf("%w: %s", errRefused, truncate(p, 120))
		}
	}
	return fmt.Errorf("%w: no %s", errRefused, marker)
}

// readMessage returns the next data message or close frame, answering pings
// on the way. The payload is valid until the next call.
func (c *client) readMessage() (ws.OpCode, []byte, error) {
	if c.sse {
		return c.readEvent()
	}
	var msg []byte
	var op ws.OpCode
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return 0, nil, err
		}
		if h.Length > 1<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		n := int(h.Length)
		if len(msg)+n > cap(c.buf) {
			c.buf = append(c.buf[:len(msg)], make([]byte, n)...)[:len(msg)]
		}
		p := c.buf[len(msg) : len(msg)+n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := c.write(ws.OpPong, p); err != nil {
				return 0, nil, err
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			_ = c.write(ws.OpClose, p) // echo, as RFC 6455 asks
			return ws.OpClose, p, nil
		case ws.OpText, ws.OpBinary:
			op = h.OpCode
		}
		msg = c.buf[:len(msg)+n]
		if h.Fin {
			return op, msg, nil
		}
	}
}

// write sends one masked frame; only the reader goroutine (or the dialer,
// before it starts) writes.
func (c *client) write(op ws.OpCode, p []byte) error {
	f := ws.MaskFrameInPlace(ws.NewFrame(op, true, bytes.Clone(p)))
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		return err
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b.Bytes())
	return err
}

// run reads until the connection ends, handing each text message to the
// worker's mode. It returns why the connection ended.
func (c *client) run() error {
	for {
		op, p, err := c.readMessage()
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		if op == ws.OpClose {
			code := 1005
			if len(p) >= 2 {
				code = int(p[0])<<8 | int(p[1])
			}
			return fmt.Errorf("closed by server with %d", code)
		}
		c.w.handle(c, now, p)
	}
}

// intField returns the integer value of "key": in a compact or spaced JSON
// object, without decoding the rest: the workers parse half a million
// messages per run on the same two cores as the server.
func intField(p []byte, key string) (int64, bool) {
	var pat [64]byte
	k := append(append(append(pat[:0], '"'), key...), '"')
	i := bytes.Index(p, k)
	if i < 0 {
		return 0, false
	}
	p = p[i+len(k):]
	p = bytes.TrimLeft(p, " \t\r\n")
	if len(p) == 0 || p[0] != ':' {
		return 0, false
	}
	p = bytes.TrimLeft(p[1:], " \t\r\n")
	end := 0
	for end < len(p) && (p[end] >= '0' && p[end] <= '9' || end == 0 && p[end] == '-') {
		end++
	}
	v, err := strconv.ParseInt(string(p[:end]), 10, 64)
	return v, err == nil
}

func truncate(p []byte, n int) string {
	if len(p) > n {
		return string(p[:n]) + "…"
	}
	return string(p)
}
