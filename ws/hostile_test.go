package ws_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// The hostile-input suite: malformed, truncated, oversized, deeply nested and
// length-lying input sent over a real socket to a real server, before
// authentication (first-message auth) and after, in every encoding (JSON
// text, MessagePack binary, permessage-deflate, fragmented), in both reader
// modes. Each case asserts the documented answer (docs/protocol.md) and that
// the process allocated no more than a small bound while it ran — the
// server shares this process, so a decoder that believed a declared length
// shows up here, or kills the test binary outright.

// allReaderModes are the server's two ways of reading: the Linux epoll
// poller, and a goroutine per connection (Config.NoPoller). TestMain runs the
// suite once per mode; readerModes holds the current pass's.
var allReaderModes = []readerMode{{"poller", false}, {"goroutine", true}}

var readerModes = allReaderModes

type readerMode struct {
	name     string
	noPoller bool
}

// hostileEnv is a server that accepts every encoding and does not throttle
// connection attempts, so the suite can open hundreds of connections.
func hostileEnv(t *testing.T, noPoller bool, mod func(*ws.Config)) *env {
	return newEnv(t, hub.Config{MaxPerUser: 1000, MaxConnections: 5000}, func(c *ws.Config) {
		c.NoPoller = noPoller
		c.Deflate = true
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
		c.AuthTimeout = 3 * time.Second
		if mod != nil {
			mod(c)
		}
	})
}

// encoding is how a hostile client talks: which subprotocol and extension it
// asks for, and how it frames one message.
type encoding struct {
	name     string
	protocol string
	deflate  bool
}

var (
	encJSON          = encoding{name: "json"}
	encMsgpack       = encoding{name: "msgpack", protocol: ws.ProtocolMsgpack}
	encDeflate       = encoding{name: "deflate", deflate: true}
	encDeflateMsgpck = encoding{name: "deflate+msgpack", protocol: ws.ProtocolMsgpack, deflate: true}
	allEncodings     = []encoding{encJSON, encMsgpack, encDeflate, encDeflateMsgpck}
)

func (e encoding) header() http.Header {
	h := http.Header{}
	if e.protocol != "" {
		h.Set("Sec-WebSocket-Protocol", e.protocol)
	}
	if e.deflate {
		h.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	}
	return h
}

// frame makes one message of payload p (JSON, or MessagePack bytes) in the
// encoding: a binary frame for MessagePack, compressed with RSV1 for deflate.
func (e encoding) frame(p []byte) []byte {
	f := wsFrame{op: opText, payload: p}
	if e.protocol == ws.ProtocolMsgpack {
		f.op = opBinary
	}
	if e.deflate {
		f.rsv, f.payload = bitRsv1, compress(p)
	}
	return f.bytes()
}

// ping is {"type":"ping"} in the encoding.
func (e encoding) ping() []byte {
	if e.protocol == ws.ProtocolMsgpack {
		return e.frame(mpPing)
	}
	return e.frame([]byte(`{"type":"ping"}`))
}

// mpPing is {"type":"ping"} in MessagePack, built by hand.
var mpPing = []byte("\x81\xa4type\xa4ping")

// answer is what the server must do with a hostile input after
// authentication: close with a code, or answer a message of type typ (and,
// for an error, message msg) and stay open.
type answer struct {
	close int
	typ   string
	msg   string
}

var (
	failed  = answer{typ: "error", msg: "Failed to process message"}
	unknown = answer{typ: "error", msg: "Unknown message type"}
	pong    = answer{typ: "pong"}
)

func closes(code int) answer { return answer{close: code} }

type hostileCase struct {
	name  string
	enc   encoding
	send  [][]byte
	after answer
}

// nested returns n opening brackets of open, then inner, then n of close.
func nested(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// mpNested wraps inner in n one-element MessagePack arrays.
func mpNested(inner []byte, n int) []byte {
	return append(bytes.Repeat([]byte{0x91}, n), inner...)
}

// mpMap is a one-pair map {"type":"ping", key: value} in MessagePack.
func mpPingWith(key string, value []byte) []byte {
	b := []byte("\x82\xa4type\xa4ping")
	b = append(b, 0xa0|byte(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

// fragments splits p into frames of at most size bytes: op for the first,
// continuations after it.
func fragments(op byte, rsv byte, p []byte, size int) [][]byte {
	var out [][]byte
	for i := 0; i == 0 || i < len(p); i += size {
		chunk := p[i:min(i+size, len(p))]
		f := wsFrame{op: opCont, payload: chunk, notFin: i+size < len(p)}
		if i == 0 {
			f.op, f.rsv = op, rsv
		}
		out = append(out, f.bytes())
	}
	return out
}

func frames(b ...[]byte) [][]byte { return b }

// closeBody is a close frame with code and reason.
func closeBody(code uint16, reason string) []byte {
	return wsFrame{op: opClose, payload: append(binary.BigEndian.AppendUint16(nil, code), reason...)}.bytes()
}

// deflateBomb is a permessage-deflate payload of a few KiB that inflates to
// 10 MiB of JSON-looking text.
func deflateBomb() []byte {
	return compress([]byte(`{"type":"ping","pad":"` + strings.Repeat("a", 10<<20) + `"}`))
}

func hostileCases() []hostileCase {
	var cs []hostileCase
	add := func(name string, enc encoding, after answer, send ...[]byte) {
		cs = append(cs, hostileCase{name: name, enc: enc, send: send, after: after})
	}

	// Framing: RFC 6455 violations, lying headers, fragmentation abuse.
	add("unmasked frame", encJSON, closes(1002), wsFrame{op: opText, payload: []byte(`{"type":"ping"}`), noMask: true}.bytes())
	add("rsv2", encJSON, closes(1002), wsFrame{op: opText, rsv: bitRsv2, payload: []byte(`{"type":"ping"}`)}.bytes())
	add("rsv3", encJSON, closes(1002), wsFrame{op: opText, rsv: bitRsv3, payload: []byte(`{"type":"ping"}`)}.bytes())
	add("reserved opcode 0x3", encJSON, closes(1002), wsFrame{op: 0x3, payload: []byte("x")}.bytes())
	add("reserved control opcode 0xb", encJSON, closes(1002), wsFrame{op: 0xb}.bytes())
	add("continuation without a start", encJSON, closes(1002), wsFrame{op: opCont, payload: []byte(`{"type":"ping"}`)}.bytes())
	add("text inside a fragmented text", encJSON, closes(1002),
		wsFrame{op: opText, notFin: true, payload: []byte(`{"type":`)}.bytes(), text(`{"type":"ping"}`))
	add("fragmented ping", encJSON, closes(1002), wsFrame{op: opPing, notFin: true, payload: []byte("a")}.bytes())
	add("ping of 126 bytes", encJSON, closes(1002), wsFrame{op: opPing, payload: bytes.Repeat([]byte("p"), 126)}.bytes())
	add("close of 126 bytes", encJSON, closes(1002), closeBody(1000, strings.Repeat("r", 124)))
	add("63-bit length with the MSB set", encJSON, closes(1002), wsFrame{op: opText, lie: true, length: math.MinInt64 + 10, form: 64, payload: []byte("0123456789")}.bytes())
	add("64-bit length of a terabyte", encJSON, closes(1009), wsFrame{op: opText, lie: true, length: 1 << 40, payload: []byte(`{"type":"ping"}`)}.bytes())
	add("64-bit length of 2^63-1", encMsgpack, closes(1009), wsFrame{op: opBinary, lie: true, length: math.MaxInt64, payload: []byte{0xdd}}.bytes())
	add("one byte over the limit", encJSON, closes(1009), text(`{"type":"ping","pad":"`+strings.Repeat("x", 16<<10+1-len(`{"type":"ping","pad":""}`))+`"}`))
	add("exactly the limit", encJSON, pong, text(`{"type":"ping","pad":"`+strings.Repeat("x", 16<<10-len(`{"type":"ping","pad":""}`))+`"}`))
	add("fragments over the limit together", encJSON, closes(1009),
		wsFrame{op: opText, notFin: true, payload: bytes.Repeat([]byte(" "), 10<<10)}.bytes(),
		wsFrame{op: opCont, payload: bytes.Repeat([]byte(" "), 10<<10)}.bytes())
	empties := [][]byte{wsFrame{op: opText, notFin: true}.bytes()}
	for range ws.MaxFragments {
		empties = append(empties, wsFrame{op: opCont, notFin: true}.bytes())
	}
	add("more fragments than MaxFragments", encJSON, closes(1009), empties...)
	add("a message in one-byte fragments", encJSON, pong, fragments(opText, 0, []byte(`{"type":"ping"}`), 1)...)
	add("binary frame without MessagePack", encJSON, closes(1003), wsFrame{op: opBinary, payload: mpPing}.bytes())
	add("invalid UTF-8", encJSON, closes(1007), text("{\"type\":\"ping\",\"x\":\"\xff\xfe\"}"))
	add("invalid UTF-8 before the message ends", encJSON, closes(1007), wsFrame{op: opText, notFin: true, payload: []byte("{\"x\":\"\xc0\xaf")}.bytes())
	add("surrogate half", encJSON, closes(1007), text("{\"type\":\"ping\",\"x\":\"\xed\xa0\x80\"}"))
	add("code point split between fragments", encJSON, pong,
		wsFrame{op: opText, notFin: true, payload: []byte("{\"type\":\"ping\",\"x\":\"\xe2\x82")}.bytes(),
		wsFrame{op: opCont, payload: []byte("\xac\"}")}.bytes())
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		add(fmt.Sprintf("close with code %d", code), encJSON, closes(1002), closeBody(code, ""))
	}
	add("close with a one-byte body", encJSON, closes(1002), wsFrame{op: opClose, payload: []byte{3}}.bytes())
	add("close with an invalid UTF-8 reason", encJSON, closes(1007), closeBody(1000, "\xff"))

	// Messages that are not an object with a string type, in every encoding.
	for _, enc := range allEncodings {
		mp := enc.protocol == ws.ProtocolMsgpack
		for _, m := range []struct{ name, json, mp string }{
			{"{}", `{}`, "\x80"},
			{"null type", `{"type":null}`, "\x81\xa4type\xc0"},
			{"number type", `{"type":5}`, "\x81\xa4type\x05"},
			{"array", `[]`, "\x90"},
			{"string", `"x"`, "\xa1x"},
			{"null", `null`, "\xc0"},
			{"number", `5`, "\x05"},
			{"empty", ``, ""},
			{"array of a message", `[{"type":"ping"}]`, "\x91\x81\xa4type\xa4ping"},
		} {
			p := []byte(m.json)
			if mp {
				p = []byte(m.mp)
			}
			add("not a message: "+m.name, enc, failed, enc.frame(p))
		}
		unk := []byte(`{"type":"dance"}`)
		if mp {
			unk = []byte("\x81\xa4type\xa5dance")
		}
		add("unknown type", enc, unknown, enc.frame(unk))
		// Depth: the message object counts; MaxDepth levels pass.
		if mp {
			add("depth MaxDepth", enc, pong, enc.frame(mpPingWith("x", mpNested([]byte{0xc0}, ws.MaxDepth-1))))
			add("depth MaxDepth+1", enc, failed, enc.frame(mpPingWith("x", mpNested([]byte{0xc0}, ws.MaxDepth))))
		} else {
			add("depth MaxDepth", enc, pong, enc.frame([]byte(`{"type":"ping","x":`+nested("[", "1", "]", ws.MaxDepth-1)+`}`)))
			add("depth MaxDepth+1", enc, failed, enc.frame([]byte(`{"type":"ping","x":`+nested("[", "1", "]", ws.MaxDepth)+`}`)))
			add("16 KiB of open brackets", enc, failed, enc.frame([]byte(strings.Repeat("[", 16<<10))))
			add("16 KiB of nested objects", enc, failed, enc.frame([]byte(strings.Repeat(`{"a":`, 16<<10/5))))
			add("not JSON", enc, failed, enc.frame([]byte(`{not json`)))
		}
	}

	// MessagePack that lies about lengths, nests without end, or carries
	// what JSON cannot.
	for _, enc := range []encoding{encMsgpack, encDeflateMsgpck} {
		for _, m := range []struct{ name, p string }{
			{"array32 of 2^32-1", "\xdd\xff\xff\xff\xff"},
			{"map32 of 2^32-1", "\xdf\xff\xff\xff\xff"},
			{"array16 of 65535", "\xdc\xff\xff\x01"},
			{"map16 of 65535", "\xde\xff\xff\xa1a\x01"},
			{"str32 of 4 GiB", "\xdb\xff\xff\xff\xffabc"},
			{"str8 longer than the message", "\x81\xa4type\xd9\xffping"},
			{"bin32 of 4 GiB", "\xc6\xff\xff\xff\xff"},
			{"bin8", "\x81\xa4type\xc4\x04ping"},
			{"ext32", "\xc9\xff\xff\xff\xff\x01"},
			{"ext8", "\xc7\x05\x01hello"},
			{"fixext1", "\xd4\x01\x00"},
			{"timestamp ext", "\x81\xa4type\xd6\xff\x00\x00\x00\x00"},
			{"never-used byte 0xc1", "\xc1"},
			{"integer map key", "\x81\x01\xa4ping"},
			{"array map key", "\x81\x90\xa4ping"},
			{"NaN", string(mpPingWith("x", []byte("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x01")))},
			{"+Inf float32", string(mpPingWith("x", []byte("\xca\x7f\x80\x00\x00")))},
			{"-Inf float64", string(mpPingWith("x", []byte("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00")))},
			{"invalid UTF-8 string", "\x81\xa4type\xa4\xff\xfe\xfd\xfc"},
			{"invalid UTF-8 key", "\x82\xa4type\xa4ping\xa2\xc0\xaf\x01"},
			{"trailing bytes", string(mpPing) + "\xc0"},
			{"truncated map", "\x82\xa4type\xa4ping"},
			{"truncated int64", "\xd3\x00\x00"},
			{"nested array32 bomb", strings.Repeat("\xdd\xff\xff\xff\xff", 3200)},
			{"nested map32 bomb", strings.Repeat("\xdf\x00\x00\xff\xff\xa1a", 2200)},
			{"nested array16 bomb", strings.Repeat("\xdc\xff\xff", 5400)},
			{"fixarray nesting to 16 KiB", strings.Repeat("\x91", 16<<10-1) + "\xc0"},
		} {
			add("msgpack: "+m.name, enc, failed, enc.frame([]byte(m.p)))
		}
		add("msgpack: control characters and escapes", enc, pong, enc.frame(mpPingWith("x", []byte("\xa5\"\\\x00\n\x7f"))))
		add("msgpack: every scalar", enc, pong, enc.frame(mpPingWith("x", []byte(
			"\x9d\x7f\xe0\xcc\xff\xcd\xff\xff\xce\xff\xff\xff\xff\xcf\xff\xff\xff\xff\xff\xff\xff\xff"+
				"\xd3\x80\x00\x00\x00\x00\x00\x00\x00\xca\x3f\xc0\x00\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"+
				"\xc0\xc2\xc3\xd9\x01a"))))
	}
	bomb := []byte(strings.Repeat("\xdd\xff\xff\xff\xff", 3200))
	add("msgpack: bomb in 100-byte fragments", encMsgpack, failed, fragments(opBinary, 0, bomb, 100)...)

	// permessage-deflate.
	add("deflate bomb", encDeflate, closes(1009), wsFrame{op: opText, rsv: bitRsv1, payload: deflateBomb()}.bytes())
	add("deflate bomb in MessagePack", encDeflateMsgpck, closes(1009), wsFrame{op: opBinary, rsv: bitRsv1, payload: deflateBomb()}.bytes())
	add("deflate bomb in fragments", encDeflate, closes(1009), fragments(opText, bitRsv1, deflateBomb(), 1000)...)
	add("corrupt deflate data", encDeflate, closes(1007), wsFrame{op: opText, rsv: bitRsv1, payload: []byte{0xff, 0xff, 0xff, 0xff}}.bytes())
	add("rsv1 on a continuation", encDeflate, closes(1002),
		wsFrame{op: opText, notFin: true, rsv: bitRsv1, payload: compress([]byte(`{"type":"ping"}`))}.bytes(),
		wsFrame{op: opCont, rsv: bitRsv1}.bytes())
	add("rsv1 on a ping", encDeflate, closes(1002), wsFrame{op: opPing, rsv: bitRsv1}.bytes())
	add("rsv1 without deflate negotiated", encJSON, closes(1002), wsFrame{op: opText, rsv: bitRsv1, payload: compress([]byte(`{"type":"ping"}`))}.bytes())
	add("compressed invalid UTF-8", encDeflate, closes(1007), wsFrame{op: opText, rsv: bitRsv1, payload: compress([]byte("{\"type\":\"ping\",\"x\":\"\xff\"}"))}.bytes())
	add("compressed message in fragments", encDeflate, pong, fragments(opText, bitRsv1, compress([]byte(`{"type":"ping","pad":"`+strings.Repeat("ab", 3000)+`"}`)), 7)...)
	return cs
}

// heapUse is what the process's heap did while a case ran.
type heapUse struct {
	allocated uint64 // bytes allocated in all, garbage included
	peak      uint64 // highest heap (objects, live or not yet swept) above the start
	before    uint64 // live heap after a GC, before the case
	after     uint64 // live heap after a GC, after the case
}

func (u heapUse) String() string {
	return fmt.Sprintf("heap before %s, after %s; peak +%s; allocated %s",
		kib(u.before), kib(u.after), kib(u.peak), kib(u.allocated))
}

func kib(n uint64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }

// measureHeap runs f and reports the heap around it: a GC before and after,
// and a sampler of the heap's size while it runs.
func measureHeap(f func()) heapUse {
	read := func() (allocs, heap uint64) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc, ms.HeapAlloc
	}
	// Two collections: objects in sync.Pools survive the first in the
	// pools' victim caches, and would count as held.
	runtime.GC()
	runtime.GC()
	a0, h0 := read()
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			peak = max(peak, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	a1, _ := read()
	// What the server still holds: the least of readings over up to a
	// second. A server still reading what a client wrote (the socket's
	// receive buffer can hold megabytes) allocates while it is measured, and
	// one reading counts those allocations as held; memory truly held stays
	// in every reading.
	h1 := uint64(math.MaxUint64)
	for i := 0; i < 50 && h1 > h0+64<<10; i++ {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		runtime.GC()
		runtime.GC()
		_, h := read()
		h1 = min(h1, h)
	}
	u := heapUse{allocated: a1 - a0, before: h0, after: h1}
	if peak > h0 {
		u.peak = peak - h0
	}
	return u
}

// hostileHeapBound is what one hostile case may allocate in all, client and
// server together. It is far above what a case needs (tens of KiB to a few
// hundred) and far below what believing one declared length costs (a 16 MiB
// slice for array32, gigabytes for the nested bombs).
const hostileHeapBound = 1 << 20

// TestHostileInput runs every hostile case after authentication, expecting
// its documented answer, and as a first message before authentication,
// expecting 4001; in both reader modes.
func TestHostileInput(t *testing.T) {
	cases := hostileCases()
	for _, mode := range readerModes {
		t.Run(mode.name, func(t *testing.T) {
			e := hostileEnv(t, mode.noPoller, nil)
			var report []string
			for _, tc := range cases {
				for _, stage := range []string{"after auth", "before auth"} {
					name := stage + "/" + tc.enc.name + "/" + tc.name
					t.Run(name, func(t *testing.T) {
						var u heapUse
						if stage == "before auth" {
							u = runBeforeAuth(t, e, tc)
						} else {
							u = runAfterAuth(t, e, tc)
						}
						report = append(report, fmt.Sprintf("%-75s %s", name, u))
						if u.allocated > hostileHeapBound || u.after > u.before+1<<20 {
							t.Errorf("heap grew: %s", u)
						}
					})
				}
			}
			// Still serving after all of it.
			c := rfcDial(t, e.urlFor("after", e.token("after")), nil)
			c.nextType("connected")
			c.mustWrite(encJSON.ping())
			c.nextType("pong")
			if testing.Verbose() {
				t.Logf("heap per case (%s):\n%s", mode.name, strings.Join(report, "\n"))
			}
		})
	}
}

func runAfterAuth(t *testing.T, e *env, tc hostileCase) heapUse {
	c := rfcDial(t, e.urlFor("hostile", e.token("hostile")), tc.enc.header())
	c.nextType("connected")
	ping := tc.enc.ping() // made here: the client's compressor is no part of the measure
	return measureHeap(func() {
		for _, f := range tc.send {
			if err := c.write(f); err != nil {
				break // the server may close before it has read everything
			}
		}
		if tc.after.close != 0 {
			c.expectClose(tc.after.close)
			return
		}
		m := c.nextType(tc.after.typ)
		if tc.after.msg != "" && m["message"] != tc.after.msg {
			t.Errorf("answered %v, want the error %q", m, tc.after.msg)
		}
		if tc.after.typ != "pong" {
			c.mustWrite(ping) // and the connection still works
			c.nextType("pong")
		}
	})
}

func runBeforeAuth(t *testing.T, e *env, tc hostileCase) heapUse {
	c := rfcDial(t, e.url, tc.enc.header())
	return measureHeap(func() {
		for _, f := range tc.send {
			if err := c.write(f); err != nil {
				break
			}
		}
		c.expectClose(4001)
	})
}

// TestLyingLengthsHoldNoMemory: frames whose headers promise up to the
// message limit and then send almost nothing cost only the bytes that came,
// before and after authentication, however many connections do it.
func TestLyingLengthsHoldNoMemory(t *testing.T) {
	const conns = 100
	for _, mode := range readerModes {
		t.Run(mode.name, func(t *testing.T) {
			e := hostileEnv(t, mode.noPoller, func(c *ws.Config) { c.AuthTimeout = time.Minute })
			var cs []*rfcConn
			for i := range conns {
				var c *rfcConn
				if i%2 == 0 {
					c = rfcDial(t, e.urlFor("liar", e.token("liar")), nil)
					c.nextType("connected")
				} else {
					c = rfcDial(t, e.url, nil) // first-message auth
				}
				cs = append(cs, c)
			}
			promised := wsFrame{op: opText, lie: true, length: 16<<10 - 1, payload: []byte(`{"type":"auth","token":"`)}.bytes()
			u := measureHeap(func() {
				for _, c := range cs {
					c.mustWrite(promised)
				}
				time.Sleep(300 * time.Millisecond) // let every reader block on the missing bytes
			})
			t.Logf("%d connections promising 16 KiB each and sending 31 bytes: %s", conns, u)
			if u.after > u.before+conns*2<<10 {
				t.Errorf("the server holds %s for promised bytes", kib(u.after-u.before))
			}
		})
	}
}

// TestPingFloodWithoutReading: clients that flood protocol pings and never
// read are closed with 1008, and the server's heap stays bounded: pings count
// against the rate limit, and at most one pong waits per connection.
func TestPingFloodWithoutReading(t *testing.T) {
	const socks, pings = 2, 80000
	for _, mode := range readerModes {
		t.Run(mode.name, func(t *testing.T) {
			e := hostileEnv(t, mode.noPoller, func(c *ws.Config) { c.CloseTimeout = 20 * time.Second; c.WriteTimeout = 20 * time.Second })
			var cs []*rfcConn
			for range socks {
				c := rfcDialSmallWindow(t, e.urlFor("flood", e.token("flood")), 4096)
				c.nextType("connected")
				cs = append(cs, c)
			}
			ping := wsFrame{op: opPing, payload: bytes.Repeat([]byte("p"), 125)}.bytes()
			flood := bytes.Repeat(ping, pings)
			u := measureHeap(func() {
				var wg sync.WaitGroup
				for _, c := range cs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < len(flood); i += 64 << 10 {
							c.nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
							if _, err := c.nc.Write(flood[i:min(i+64<<10, len(flood))]); err != nil {
								return
							}
						}
					}()
				}
				wg.Wait()
			})
			runtime.KeepAlive(flood) // in the heap before and after alike
			t.Logf("%d sockets × %d pings of 125 bytes, never read: %s", socks, pings, u)
			if u.after > u.before+2<<20 {
				t.Errorf("the server holds %s more after the flood", kib(u.after-u.before))
			}
			for _, c := range cs {
				pongs := 0
				for {
					f, err := c.readFrame(20 * time.Second)
					if err != nil {
						t.Fatalf("no close frame after %d pongs: %v", pongs, err)
					}
					if f.op == opPong {
						pongs++
					}
					if f.op == opClose {
						if cf := parseClose(f.data); cf.code != 1008 {
							t.Errorf("closed with %d %q, want 1008", cf.code, cf.reason)
						}
						c.write(closeBody(1008, ""))
						break
					}
				}
				if pongs > 100 {
					t.Errorf("%d pongs answered %d pings past the rate limit", pongs, pings)
				}
			}
		})
	}
}

// TestDeflateNegotiationDeclinesBadOffers: an offer with an unknown, invalid
// or repeated parameter is declined and the next offer taken, or none (RFC
// 7692 section 5); client input never gets a 5xx.
func TestDeflateNegotiationDeclinesBadOffers(t *testing.T) {
	e := hostileEnv(t, false, nil)
	for _, tc := range []struct {
		offer  string
		accept bool
	}{
		{"permessage-deflate; foo=1, permessage-deflate", true},
		{"permessage-deflate; foo=1", false},
		{"permessage-deflate; client_max_window_bits=99, permessage-deflate; client_max_window_bits", true},
		{"permessage-deflate; client_no_context_takeover; client_no_context_takeover", false},
		{"permessage-deflate; server_no_context_takeover=yes, x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover", true},
		{"permessage-deflate; server_max_window_bits", false},
		{"permessage-deflate; server_max_window_bits=10", false}, // valid, but the server keeps its 32 KiB window
	} {
		t.Run(tc.offer, func(t *testing.T) {
			c, err := tryRFCDial(t, e.urlFor("neg", e.token("neg")), http.Header{"Sec-WebSocket-Extensions": {tc.offer}})
			if err != nil {
				t.Fatal(err)
			}
			got := c.resp.Header.Get("Sec-WebSocket-Extensions")
			if accepted := strings.HasPrefix(got, "permessage-deflate"); accepted != tc.accept {
				t.Fatalf("answered extensions %q, want accepted=%v", got, tc.accept)
			}
			c.nextType("connected")
			if tc.accept {
				c.mustWrite(encDeflate.ping())
				c.nextType("pong")
				return
			}
			c.mustWrite(encDeflate.ping()) // RSV1 without the extension
			c.expectClose(1002)
		})
	}
	// A malformed header is the client's error too: 400, not 500.
	c, err := tryRFCDial(t, e.urlFor("neg", e.token("neg")), http.Header{"Sec-WebSocket-Extensions": {`permessage-deflate; "`}})
	if err == nil || c == nil || c.resp == nil || c.resp.StatusCode >= 500 {
		t.Fatalf("malformed extension header: %v", err)
	}
}

// TestClientCloseEndsTheSocketAtOnce: a client's close frame is answered,
// and the server shuts the socket as soon as its answer is written, not
// after CloseTimeout (a minute here), so a closed connection's resources go
// at once.
func TestClientCloseEndsTheSocketAtOnce(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode.name, func(t *testing.T) {
			e := hostileEnv(t, mode.noPoller, func(c *ws.Config) { c.CloseTimeout = time.Minute })
			c := rfcDial(t, e.urlFor("leaver", e.token("leaver")), nil)
			c.nextType("connected")
			c.mustWrite(closeBody(1000, "bye"))
			for {
				f, err := c.readFrame(10 * time.Second)
				if err != nil {
					t.Fatalf("no close frame answered: %v", err)
				}
				if f.op == opClose {
					if cf := parseClose(f.data); cf.code != 1000 {
						t.Errorf("answered with %d %q, want 1000", cf.code, cf.reason)
					}
					break
				}
			}
			if _, err := c.readFrame(10 * time.Second); !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want the socket shut (EOF) long before CloseTimeout", err)
			}
		})
	}
}
