// Package wslib holds the throwaway servers of herald-bench's WebSocket
// library comparison. Each accepts connections, upgrades them and runs a read
// loop that answers pings and closes: the least each library needs to keep a
// connection open, so that what an idle connection costs in memory is the
// library's (and the Go runtime's) doing, not an application's.
package wslib

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/lxzan/gws"
)

// Libraries are the servers Serve runs:
//
//   - gobwas: github.com/gobwas/ws upgrading the raw TCP connection itself
//     (ws.Upgrade), no net/http, one goroutine per connection reading frame
//     headers straight from the socket;
//   - gobwas-http: the same read loop behind net/http and ws.UpgradeHTTP, the
//     way Herald's ws package runs it (the handler goroutine becomes the
//     connection's reader);
//   - gobwas-http-go: behind net/http too, but the handler starts the read
//     loop on a new goroutine and returns, so that net/http lets go of the
//     connection's request, buffers and grown stack;
//   - gws: github.com/lxzan/gws's own server (gws.NewServer), library defaults;
//   - coder: github.com/coder/websocket's Accept behind net/http, reading
//     with Conn.Reader, library defaults.
var Libraries = []string{"gobwas", "gobwas-http", "gobwas-http-go", "gws", "coder"}

// Serve accepts connections on ln with lib until ln fails. live counts the
// connections that are open.
func Serve(lib string, ln net.Listener, live *atomic.Int64) error {
	switch lib {
	case "gobwas":
		return serveGobwas(ln, live)
	case "gobwas-http":
		return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nc, _, _, err := ws.UpgradeHTTP(r, w)
			if err != nil {
				return
			}
			defer nc.Close()
			live.Add(1)
			defer live.Add(-1)
			gobwasReadLoop(nc)
		}))
	case "gobwas-http-go":
		return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nc, _, _, err := ws.UpgradeHTTP(r, w)
			if err != nil {
				return
			}
			live.Add(1)
			go func() {
				defer nc.Close()
				defer live.Add(-1)
				gobwasReadLoop(nc)
			}()
		}))
	case "gws":
		return gws.NewServer(&gwsHandler{live: live}, nil).RunListener(ln)
	case "coder":
		return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			live.Add(1)
			defer live.Add(-1)
			ctx := context.Background()
			for {
				_, rd, err := c.Reader(ctx) // answers pings as it reads
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, rd); err != nil {
					return
				}
			}
		}))
	}
	return fmt.Errorf("unknown library %q (known: %v)", lib, Libraries)
}

func serveGobwas(ln net.Listener, live *atomic.Int64) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			live.Add(1)
			defer live.Add(-1)
			gobwasReadLoop(nc)
		}()
	}
}

// gobwasReadLoop reads frames from a client until it closes: pings get a pong,
// a close frame its echo, data is discarded.
func gobwasReadLoop(rw io.ReadWriter) {
	for {
		h, err := ws.ReadHeader(rw)
		if err != nil || h.Length > 1<<20 {
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(rw, payload); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if ws.WriteFrame(rw, ws.NewPongFrame(payload)) != nil {
				return
			}
		case ws.OpClose:
			_ = ws.WriteFrame(rw, ws.NewCloseFrame(payload))
			return
		}
	}
}

// gwsHandler counts connections; gws's BuiltinEventHandler answers pings.
type gwsHandler struct {
	gws.BuiltinEventHandler
	live *atomic.Int64
}

func (h *gwsHandler) OnOpen(*gws.Conn)                      { h.live.Add(1) }
func (h *gwsHandler) OnClose(*gws.Conn, error)              { h.live.Add(-1) }
func (h *gwsHandler) OnMessage(_ *gws.Conn, m *gws.Message) { _ = m.Close() }
