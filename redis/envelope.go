package redis

import (
	"encoding/binary"

	"github.com/heraldhq/herald"
)

// envelope is what crosses Redis for one message: the message itself and the
// node it came from. Its encoding is binary and compact, since a payload
// already encoded as JSON would otherwise be escaped into a second JSON:
//
//	version  1 byte (2; version 1, without close, is still read)
//	kind     1 byte: herald.AudienceKind, or kindResync, kindProbe
//	flags    1 byte: bit 0 Latest, bit 1 delivered by the origin node itself
//	seq      uvarint: herald.Message.Seq, or its Version when Latest is set
//	close    uvarint: herald.Message.Close, a close order's code (version 2)
//	origin   uvarint length, bytes
//	name     uvarint length, bytes
//	except   uvarint length, bytes
//	payload  the remaining bytes
type envelope struct {
	kind   byte
	latest bool
	// local says the origin node delivered the message to its own
	// connections when it published it, and skips its own copy.
	local   bool
	seq     int64
	close   int
	origin  string
	name    string
	except  string
	payload []byte
}

const envelopeVersion = 2

// Control kinds, beside the audience kinds 1-3.
const (
	// kindResync asks every node to replay to its connections what they
	// may have missed: a node sends it after its own publishes failed.
	kindResync byte = 0x10
	// kindProbe is a node's message to itself, proving its subscription works.
	kindProbe byte = 0x11
)

const (
	flagLatest = 1 << iota
	flagLocal
)

// maxField bounds origin, name and except; longer ones are malformed.
const maxField = 1 << 16

// encode returns the envelope's bytes.
func (e *envelope) encode() []byte {
	n := 3 + 4*binary.MaxVarintLen64 + len(e.origin) + len(e.name) + len(e.except) + len(e.payload)
	b := make([]byte, 3, n)
	b[0], b[1] = envelopeVersion, e.kind
	if e.latest {
		b[2] |= flagLatest
	}
	if e.local {
		b[2] |= flagLocal
	}
	b = binary.AppendUvarint(b, uint64(e.seq))
	b = binary.AppendUvarint(b, uint64(e.close))
	for _, s := range []string{e.origin, e.name, e.except} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, e.payload...)
}

// decodeEnvelope parses s, as pub/sub hands it over. A malformed input is an
// EINVALID error, never a panic.
func decodeEnvelope(s string) (envelope, error) {
	var e envelope
	bad := herald.Errorf(herald.EINVALID, "malformed broker envelope")
	if len(s) < 3 || s[0] != envelopeVersion && s[0] != 1 {
		return e, bad
	}
	version := s[0]
	e.kind, e.latest, e.local = s[1], s[2]&flagLatest != 0, s[2]&flagLocal != 0
	switch e.kind {
	case byte(herald.ToUser), byte(herald.ToChannel), byte(herald.ToAll), kindResync, kindProbe:
	default:
		return e, bad
	}
	s = s[3:]
	seq, n := uvarint(s)
	if n <= 0 || seq > 1<<62 {
		return e, bad
	}
	e.seq, s = int64(seq), s[n:]
	if version >= 2 {
		code, n := uvarint(s)
		if n <= 0 || code > 4999 {
			return e, bad
		}
		e.close, s = int(code), s[n:]
	}
	for _, f := range []*string{&e.origin, &e.name, &e.except} {
		l, n := uvarint(s)
		if n <= 0 || l > maxField || uint64(len(s)-n) < l {
			return e, bad
		}
		*f, s = s[n:n+int(l)], s[n+int(l):]
	}
	e.payload = []byte(s)
	return e, nil
}

// uvarint is binary.Uvarint over a string, without copying it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// envelopeOf wraps m, published by origin. A Latest message has no seq and
// carries its Version in the seq field.
func envelopeOf(m *herald.Message, origin string) *envelope {
	seq := m.Seq
	if m.Latest {
		seq = m.Version
	}
	return &envelope{
		kind:    byte(m.To.Kind),
		latest:  m.Latest,
		seq:     seq,
		close:   m.Close,
		origin:  origin,
		name:    m.To.Name,
		except:  m.To.Except,
		payload: m.Payload,
	}
}

// message rebuilds the herald.Message an audience envelope carries.
func (e *envelope) message() *herald.Message {
	m := &herald.Message{
		To:      herald.Audience{Kind: herald.AudienceKind(e.kind), Name: e.name, Except: e.except},
		Payload: e.payload,
		Seq:     e.seq,
		Latest:  e.latest,
		Close:   e.close,
	}
	if m.Latest {
		m.Seq, m.Version = 0, e.seq
	}
	return m
}
