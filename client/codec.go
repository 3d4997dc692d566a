package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// protocolMsgpack is the subprotocol of EncodingMsgpack (docs/protocol.md).
const protocolMsgpack = "herald.msgpack"

// The client works in JSON throughout: what arrives in MessagePack is turned
// into JSON as soon as it is read, so that one parser, OnRaw and the
// application see the same messages whatever the encoding; what it sends is
// turned into MessagePack just before it is written.

// frameJSON returns the JSON of one server message: a binary frame is
// MessagePack, a text frame JSON already.
func frameJSON(typ websocket.MessageType, data []byte) ([]byte, error) {
	if typ != websocket.MessageBinary {
		return data, nil
	}
	return msgpackToJSON(data)
}

var errTrailing = errors.New("trailing data after the MessagePack value")

// msgpackToJSON converts one MessagePack value into JSON. Numbers stay
// numbers; maps must have string keys, as JSON objects do.
func msgpackToJSON(b []byte) ([]byte, error) {
	r := bytes.NewReader(b) // read directly, being an io.ByteScanner
	var v any
	if err := msgpack.NewDecoder(r).Decode(&v); err != nil {
		return nil, err
	}
	if r.Len() > 0 {
		return nil, errTrailing
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep < > & as they came, as the JSON path does
	if err := enc.Encode(v); err != nil {
		return nil, err // NaN or an infinity, which JSON cannot carry
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonToMsgpack converts one JSON value into MessagePack, integers as
// integers and other numbers as float64.
func jsonToMsgpack(data []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return msgpack.Marshal(numbers(v))
}

// numbers replaces each json.Number in v by the int64, uint64 or float64 it
// holds, so that MessagePack carries numbers rather than strings.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
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
