package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// dialSSE opens connection idx of j as a Server-Sent Events stream: GET /sse
// on the node's address with the design document's query token (and the
// connection's channel as ?channel= in fan-out mode), then waits for
// "connected" (and "subscribed").
func dialSSE(ctx context.Context, w *worker, idx int) (*client, error) {
	j := &w.job
	wsu, err := url.Parse(j.url(idx))
	if err != nil {
		return nil, err
	}
	user := j.userID(idx)
	tok, err := mintToken(j.JWTSecret, user, j.Lifetime+time.Hour)
	if err != nil {
		return nil, err
	}
	q := url.Values{"token": {tok}, "userId": {user}}
	if j.Mode == modeFanout {
		q.Set("channel", j.channelOf(idx))
	}
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceIP(idx)}, Timeout: j.DialTimeout}
	nc, err := nd.DialContext(ctx, "tcp", wsu.Host)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(j.DialTimeout))
	if _, err := fmt.Fprintf(nc, "GET /sse?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", q.Encode(), wsu.Host); err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(nc, 2048), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		nc.Close()
		return nil, fmt.Errorf("%w: GET /sse answered %s", errRefused, resp.Status)
	}
	c := &client{w: w, idx: idx, node: j.node(idx), nc: nc, buf: make([]byte, 0, 512), last: -1, sse: true}
	c.br = bufio.NewReaderSize(resp.Body, 2048) // the body without its chunked framing
	if err := c.expect(`"type":"connected"`); err != nil {
		nc.Close()
		return nil, err
	}
	if j.Mode == modeFanout {
		if err := c.expect(`"type":"subscribed"`); err != nil {
			nc.Close()
			return nil, err
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// readEvent returns the data of the next event as a text message; a final
// "close" event is returned as a close frame with its code.
func (c *client) readEvent() (ws.OpCode, []byte, error) {
	c.buf = c.buf[:0]
	closing, has := false, false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if !has {
				continue
			}
			if closing {
				code := int(intFieldOr(c.buf, "code", 1005))
				return ws.OpClose, []byte{byte(code >> 8), byte(code)}, nil
			}
			return ws.OpText, c.buf, nil
		case bytes.HasPrefix(line, []byte("data: ")):
			if has {
				c.buf = append(c.buf, '\n')
			}
			c.buf = append(c.buf, line[6:]...)
			has = true
		case strings.HasPrefix(string(line), "event: close"):
			closing = true
		}
	}
}

func intFieldOr(p []byte, key string, def int64) int64 {
	if v, ok := intField(p, key); ok {
		return v
	}
	return def
}
