package ws

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/heraldhq/herald"
)

// Subprotocols a client may ask for in Sec-WebSocket-Protocol. Without one,
// messages are JSON text frames, as in the design document.
const (
	ProtocolJSON    = "herald.json"
	ProtocolMsgpack = "herald.msgpack" // the same messages as MessagePack binary frames
)

// format is how one connection's frames are encoded: the zero value is the
// design document's JSON text; the bits add MessagePack and permessage-deflate.
type format uint8

const (
	fmtMsgpack format = 1 << iota
	fmtDeflate
	fmtCount = 4
)

// encoded is one message in one format, shared by every connection using it.
type encoded struct {
	op         ws.OpCode
	data       []byte
	compressed bool
}

// encodedAs returns m in format f, converted once per message and format
// however many connections use it (herald.Message.Encoded).
func encodedAs(m *herald.Message, f format, threshold int) *encoded {
	return m.Encoded(f, func(payload []byte) any { return convert(payload, f, threshold) }).(*encoded)
}

// convert encodes a JSON payload in format f.
func convert(payload []byte, f format, threshold int) *encoded {
	out := &encoded{op: ws.OpText, data: payload}
	if f&fmtMsgpack != 0 {
		if b, err := jsonToMsgpack(payload); err == nil {
			out.op, out.data = ws.OpBinary, b
		}
	}
	if f&fmtDeflate != 0 && len(out.data) >= threshold {
		if b, err := deflate(out.data); err == nil && len(b) < len(out.data) {
			out.data, out.compressed = b, true
		}
	}
	return out
}

func jsonToMsgpack(payload []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return msgpack.Marshal(numbers(v))
}

// numbers turns json.Number into int64 or float64, so MessagePack carries
// numbers rather than strings.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflate compresses one message for permessage-deflate without context
// takeover (RFC 7692): raw DEFLATE with the final empty block's tail removed.
func deflate(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}), nil
}

var errInflate = errors.New("invalid deflate data")

// inflaters keeps DEFLATE readers, each with its 32 KiB window, for reuse: a
// client's compressed messages then cost their output and no fresh window.
var inflaters sync.Pool

// deflateTail ends a message's DEFLATE data as RFC 7692 asks (the 00 00 ff
// ff the sender removed), then adds an empty final block so the reader ends.
var deflateTail = []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}

// inflate decompresses a client's message, refusing to produce more than max
// bytes so that a small "deflate bomb" cannot expand into gigabytes: it stops
// reading at max+1 bytes, whatever the data would still produce.
func inflate(b []byte, max int) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(b), bytes.NewReader(deflateTail))
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, errInflate
	}
	defer func() {
		r.Close()
		inflaters.Put(r)
	}()
	out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errInflate
	}
	if len(out) > max {
		return nil, errTooLarge
	}
	return out, nil
}
