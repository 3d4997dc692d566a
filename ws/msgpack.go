package ws

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/heraldhq/herald/session"
)

// MaxDepth is how deeply a client message may nest arrays and objects,
// counting the message object itself, in every encoding (session.MaxDepth).
const MaxDepth = session.MaxDepth

var errMsgpack = errors.New("invalid MessagePack message")

// msgpackToJSON transcodes one client MessagePack value into the JSON the
// dispatcher reads, or fails. It replaces a general-purpose decoder because
// that allocates by the lengths a header declares: a five-byte array32 header
// promising four billion elements made the process allocate gigabytes.
//
// Here nothing is allocated for a declared length. Every length is checked
// against the bytes that remain before it is believed — a string of n bytes
// needs n bytes, an array of n elements at least n, a map of n pairs at least
// 2n — and the output grows only as input is consumed: at most 6 bytes of
// JSON per byte of MessagePack (false, in an array, is one byte and
// "false,"). Nesting deeper than MaxDepth, map keys that are not strings,
// strings that are not UTF-8, NaN and infinities (which JSON cannot carry),
// binary and extension values (which the protocol does not use), the never
// used byte 0xc1 and trailing bytes after the value are refused.
func msgpackToJSON(b []byte) ([]byte, error) {
	t := transcoder{in: b, out: make([]byte, 0, len(b)+len(b)/4+16)} // grows past that only as input is consumed
	if err := t.value(1); err != nil {
		return nil, err
	}
	if t.pos != len(t.in) {
		return nil, errMsgpack
	}
	return t.out, nil
}

type transcoder struct {
	in  []byte
	pos int
	out []byte
}

// take returns the next n bytes of input, or fails when fewer remain.
func (t *transcoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(t.in)-t.pos) {
		return nil, errMsgpack
	}
	b := t.in[t.pos : t.pos+int(n)]
	t.pos += int(n)
	return b, nil
}

// length reads a big-endian length of size bytes (1, 2 or 4).
func (t *transcoder) length(size int) (uint64, error) {
	b, err := t.take(uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	}
	return uint64(binary.BigEndian.Uint32(b)), nil
}

// value transcodes one value at nesting depth (1 for the top level).
func (t *transcoder) value(depth int) error {
	c, err := t.take(1)
	if err != nil {
		return err
	}
	switch b := c[0]; {
	case b <= 0x7f: // positive fixint
		t.out = strconv.AppendUint(t.out, uint64(b), 10)
	case b >= 0xe0: // negative fixint
		t.out = strconv.AppendInt(t.out, int64(int8(b)), 10)
	case b >= 0xa0 && b <= 0xbf:
		return t.str(uint64(b & 0x1f))
	case b >= 0x90 && b <= 0x9f:
		return t.array(uint64(b&0x0f), depth)
	case b >= 0x80 && b <= 0x8f:
		return t.object(uint64(b&0x0f), depth)
	case b == 0xc0:
		t.out = append(t.out, "null"...)
	case b == 0xc2:
		t.out = append(t.out, "false"...)
	case b == 0xc3:
		t.out = append(t.out, "true"...)
	case b >= 0xcc && b <= 0xcf: // uint 8, 16, 32, 64
		x, err := t.take(1 << (b - 0xcc))
		if err != nil {
			return err
		}
		t.out = strconv.AppendUint(t.out, beUint(x), 10)
	case b >= 0xd0 && b <= 0xd3: // int 8, 16, 32, 64
		x, err := t.take(1 << (b - 0xd0))
		if err != nil {
			return err
		}
		t.out = strconv.AppendInt(t.out, beInt(x), 10)
	case b == 0xca:
		x, err := t.take(4)
		if err != nil {
			return err
		}
		return t.float(float64(math.Float32frombits(binary.BigEndian.Uint32(x))), 32)
	case b == 0xcb:
		x, err := t.take(8)
		if err != nil {
			return err
		}
		return t.float(math.Float64frombits(binary.BigEndian.Uint64(x)), 64)
	case b >= 0xd9 && b <= 0xdb: // str 8, 16, 32
		n, err := t.length(1 << (b - 0xd9))
		if err != nil {
			return err
		}
		return t.str(n)
	case b == 0xdc || b == 0xdd: // array 16, 32
		n, err := t.length(2 << (b - 0xdc))
		if err != nil {
			return err
		}
		return t.array(n, depth)
	case b == 0xde || b == 0xdf: // map 16, 32
		n, err := t.length(2 << (b - 0xde))
		if err != nil {
			return err
		}
		return t.object(n, depth)
	default: // 0xc1 (never used), bin 0xc4-0xc6, ext 0xc7-0xc9 and fixext 0xd4-0xd8
		return errMsgpack
	}
	return nil
}

func (t *transcoder) str(n uint64) error {
	s, err := t.take(n)
	if err != nil || !utf8.Valid(s) {
		return errMsgpack
	}
	t.out = appendJSONString(t.out, s)
	return nil
}

func (t *transcoder) array(n uint64, depth int) error {
	if depth > MaxDepth || n > uint64(len(t.in)-t.pos) { // each element takes a byte at least
		return errMsgpack
	}
	t.out = append(t.out, '[')
	for i := uint64(0); i < n; i++ {
		if i > 0 {
			t.out = append(t.out, ',')
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
	}
	t.out = append(t.out, ']')
	return nil
}

func (t *transcoder) object(n uint64, depth int) error {
	if depth > MaxDepth || n > uint64(len(t.in)-t.pos)/2 { // each pair takes two bytes at least
		return errMsgpack
	}
	t.out = append(t.out, '{')
	for i := uint64(0); i < n; i++ {
		if i > 0 {
			t.out = append(t.out, ',')
		}
		c, err := t.take(1)
		if err != nil {
			return err
		}
		var klen uint64
		switch b := c[0]; {
		case b >= 0xa0 && b <= 0xbf:
			klen = uint64(b & 0x1f)
		case b >= 0xd9 && b <= 0xdb:
			if klen, err = t.length(1 << (b - 0xd9)); err != nil {
				return err
			}
		default:
			return errMsgpack // JSON objects have string keys only
		}
		if err := t.str(klen); err != nil {
			return err
		}
		t.out = append(t.out, ':')
		if err := t.value(depth + 1); err != nil {
			return err
		}
	}
	t.out = append(t.out, '}')
	return nil
}

// float writes f as encoding/json does, refusing what JSON cannot carry.
func (t *transcoder) float(f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errMsgpack
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	t.out = strconv.AppendFloat(t.out, f, format, -1, bits)
	return nil
}

func beUint(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

func beInt(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b)))
	}
	return int64(binary.BigEndian.Uint64(b))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a JSON string: quotes,
// backslashes and control characters escaped, everything else as it is.
func appendJSONString(out, s []byte) []byte {
	out = append(out, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}
