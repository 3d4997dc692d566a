package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// TestHostileFramesDoNotKillTheProcess sends the herald binary, running under
// a GOMEMLIMIT, the frames that used to end it — a five-byte MessagePack
// array32 header before any token, nested length-lying MessagePack after
// authentication, a deflate bomb, a flood of pings never read, hundreds of
// headers promising bytes that never come — and checks that each gets its
// documented answer, that the process is still up and serving, and that its
// peak resident memory stayed small.
func TestHostileFramesDoNotKillTheProcess(t *testing.T) {
	env := procEnv(filepath.Join(t.TempDir(), "herald.db"))
	env["GOMEMLIMIT"] = "96MiB"
	env["WS_PERMESSAGE_DEFLATE"] = "true"
	env["WS_CONNECT_BURST"] = "1000"
	env["WS_MAX_CONNECTIONS_PER_USER"] = "1000"
	p := startProc(t, env)
	s := newServer(t, p.addr, testSecret, testAPIKey)
	base := peakRSS(t, p)

	bomb := func(unit string, n int) []byte { return []byte(strings.Repeat(unit, n)) }
	const mp = "herald.msgpack"

	t.Run("array32 of 2^32-1 as the first message", func(t *testing.T) {
		c := hostileDial(t, "ws://"+p.addr+"/ws", mp, false)
		c.send(handFrame(0x2, 0, []byte("\xdd\xff\xff\xff\xff")))
		c.expectClose(4001)
	})
	for _, tc := range []struct{ name, payload string }{
		{"array32 of 2^32-1", "\xdd\xff\xff\xff\xff"},
		{"map32 of 2^32-1", "\xdf\xff\xff\xff\xff"},
		{"bin32 of 4 GiB", "\xc6\xff\xff\xff\xff"},
		{"nested array32", string(bomb("\xdd\xff\xff\xff\xff", 3200))},
		{"nested array16", string(bomb("\xdc\xff\xff", 5400))},
		{"nested map32", string(bomb("\xdf\x00\x00\xff\xff\xa1a", 2200))},
	} {
		t.Run(tc.name+" after auth", func(t *testing.T) {
			c := hostileDial(t, s.wsURL("mallory", token(t, testSecret, "mallory")), mp, false)
			c.skipTo("connected")
			c.send(handFrame(0x2, 0, []byte(tc.payload)))
			c.skipTo("Failed to process message")
			c.send(handFrame(0x2, 0, []byte("\x81\xa4type\xa4ping")))
			c.skipTo("pong")
		})
	}
	t.Logf("peak RSS after the MessagePack cases: %.1f MiB", float64(peakRSS(t, p))/(1<<20))
	t.Run("deflate bomb", func(t *testing.T) {
		c := hostileDial(t, s.wsURL("mallory", token(t, testSecret, "mallory")), "", true)
		c.skipTo("connected")
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		w.Write([]byte(`{"type":"ping","pad":"` + strings.Repeat("a", 8<<20) + `"}`))
		w.Flush()
		c.send(handFrame(0x1, 0x40, bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})))
		c.expectClose(1009)
	})
	t.Logf("peak RSS after the deflate bomb: %.1f MiB", float64(peakRSS(t, p))/(1<<20))
	t.Run("pings never read", func(t *testing.T) {
		ping := bytes.Repeat(handFrame(0x9, 0, bytes.Repeat([]byte("p"), 125)), 50000)
		var wg sync.WaitGroup
		for range 2 {
			c := hostileDial(t, s.wsURL("mallory", token(t, testSecret, "mallory")), "", false)
			c.skipTo("connected")
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
				c.nc.Write(ping) // may fail once the server closes
				c.expectClose(1008)
			}()
		}
		wg.Wait()
	})
	t.Logf("peak RSS after the ping flood: %.1f MiB", float64(peakRSS(t, p))/(1<<20))
	t.Run("headers promising bytes that never come", func(t *testing.T) {
		var cs []*hostileConn
		for i := range 200 {
			u := "ws://" + p.addr + "/ws"
			if i%2 == 0 {
				u = s.wsURL("mallory", token(t, testSecret, "mallory"))
			}
			c := hostileDial(t, u, "", false)
			c.send(handFrameDeclaring(0x1, 16<<10-1, []byte(`{"type":"auth","token":"`)))
			cs = append(cs, c)
		}
		time.Sleep(500 * time.Millisecond)
		for _, c := range cs {
			c.nc.Close()
		}
	})

	select {
	case <-p.done:
		t.Fatalf("herald exited: %v\n%s", p.err, p.stderr.String())
	default:
	}
	if code, _ := s.do("GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz answered %d", code)
	}
	c, _ := s.connect("alice")
	c.send(map[string]any{"type": "ping"})
	c.expect("pong")
	peak := peakRSS(t, p)
	t.Logf("peak RSS %.1f MiB (%.1f MiB when it started serving)", float64(peak)/(1<<20), float64(base)/(1<<20))
	// The race detector keeps shadow memory and per-goroutine state, several
	// times what the heap itself uses.
	bound := uint64(64 << 20)
	if raceEnabled {
		bound = 256 << 20
	}
	if peak > base+bound {
		t.Errorf("peak RSS grew by %.1f MiB under hostile frames", float64(peak-base)/(1<<20))
	}
}

// peakRSS reads the process's high-water mark of resident memory.
func peakRSS(t *testing.T, p *proc) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// hostileConn is a WebSocket that writes frames laid out by hand.
type hostileConn struct {
	t  *testing.T
	nc net.Conn
	rd io.Reader
}

// hostileDial opens a WebSocket asking for subprotocol (when not empty) and
// permessage-deflate (when deflate is set).
func hostileDial(t *testing.T, u, subprotocol string, deflate bool) *hostileConn {
	t.Helper()
	var d gws.Dialer
	if deflate {
		d.Extensions = []httphead.Option{wsflate.DefaultParameters.Option()}
	}
	if subprotocol != "" {
		d.Protocols = []string{subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var rd io.Reader = nc
	if br != nil {
		rd = io.MultiReader(br, nc)
	}
	return &hostileConn{t: t, nc: nc, rd: bufio.NewReader(rd)}
}

// handFrame lays out a masked, final client frame.
func handFrame(op, rsv byte, p []byte) []byte {
	return layFrame(op, rsv, len(p), p)
}

// handFrameDeclaring is a frame whose header declares n bytes, followed by
// p, which may be shorter.
func handFrameDeclaring(op byte, n int, p []byte) []byte { return layFrame(op, 0, n, p) }

func layFrame(op, rsv byte, n int, p []byte) []byte {
	b := []byte{0x80 | rsv | op}
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := []byte{0x5a, 0xa5, 0x3c, 0xc3}
	b = append(b, key...)
	for i, c := range p {
		b = append(b, c^key[i%4])
	}
	return b
}

func (c *hostileConn) send(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// skipTo reads frames until a data frame containing s.
func (c *hostileConn) skipTo(s string) {
	c.t.Helper()
	for {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := gws.ReadFrame(c.rd)
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", s, err)
		}
		if f.Header.OpCode == gws.OpClose {
			code, reason := gws.ParseCloseFrameData(f.Payload)
			c.t.Fatalf("closed with %d %q while waiting for %q", code, reason, s)
		}
		if bytes.Contains(f.Payload, []byte(s)) {
			return
		}
	}
}

// expectClose reads frames until the server's close frame, which must carry
// code, and answers it.
func (c *hostileConn) expectClose(code int) {
	c.t.Helper()
	for {
		c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		f, err := gws.ReadFrame(c.rd)
		if err != nil {
			c.t.Errorf("no close frame: %v", err)
			return
		}
		if f.Header.OpCode == gws.OpClose {
			if got, reason := gws.ParseCloseFrameData(f.Payload); int(got) != code {
				c.t.Errorf("closed with %d %q, want %d", got, reason, code)
			}
			c.nc.Write(handFrame(0x8, 0, f.Payload[:2]))
			return
		}
	}
}
