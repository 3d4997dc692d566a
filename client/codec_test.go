package client

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// TestCodecRoundTrip: JSON through MessagePack and back keeps every value,
// integers beyond float64's precision included, and carries numbers as
// MessagePack numbers.
func TestCodecRoundTrip(t *testing.T) {
	in := `{"type":"x","i":-7,"big":9007199254740993,"u":18446744073709551615,"f":0.5,"s":"<a & b>","t":true,"n":null,"a":[1,"2",{"k":[]}],"o":{}}`
	mp, err := jsonToMsgpack([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := msgpack.Unmarshal(mp, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["big"].(int64); !ok {
		t.Errorf("big went as %T, want int64", raw["big"])
	}
	if _, ok := raw["u"].(uint64); !ok {
		t.Errorf("u went as %T, want uint64", raw["u"])
	}
	if _, ok := raw["f"].(float64); !ok {
		t.Errorf("f went as %T, want float64", raw["f"])
	}
	out, err := frameJSON(websocket.MessageBinary, mp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[1,"2",{"k":[]}],"big":9007199254740993,"f":0.5,"i":-7,"n":null,"o":{},"s":"<a & b>","t":true,"type":"x","u":18446744073709551615}`
	if string(out) != want {
		t.Errorf("round trip gave\n%s\nwant\n%s", out, want)
	}
	if got, err := frameJSON(websocket.MessageText, []byte(in)); err != nil || string(got) != in {
		t.Errorf("a text frame = %s, %v; want it as it is", got, err)
	}
}

// TestMsgpackToJSONRefuses what JSON cannot carry and what is not one
// MessagePack value.
func TestMsgpackToJSONRefuses(t *testing.T) {
	nonString, _ := msgpack.Marshal(map[int]string{1: "a"})
	nan, _ := msgpack.Marshal(map[string]float64{"x": math.NaN()})
	one, _ := msgpack.Marshal(map[string]int{"a": 1})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"truncated":      one[:len(one)-1],
		"trailing":       append(append([]byte(nil), one...), 0xc0),
		"non-string key": nonString,
		"NaN":            nan,
		"reserved code":  {0xc1},
	} {
		if out, err := msgpackToJSON(b); err == nil {
			t.Errorf("%s: converted to %s, want an error", name, out)
		}
	}
	if _, err := jsonToMsgpack([]byte(`{"a":`)); err == nil {
		t.Error("jsonToMsgpack of truncated JSON succeeded")
	}
	if out, err := msgpackToJSON(one); err != nil || !bytes.Equal(out, []byte(`{"a":1}`)) || !json.Valid(out) {
		t.Errorf("msgpackToJSON(%x) = %s, %v", one, out, err)
	}
}
