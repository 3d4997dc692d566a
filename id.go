package herald

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// NewID returns a new notification id: a UUID version 7 (RFC 9562), whose
// leading timestamp keeps ids roughly in creation order, so index inserts
// stay local and ids sort like the inbox.
func NewID() string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(u[6:]); err != nil {
		panic("herald: no randomness: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return formatUUID(u)
}

// ParseID returns a notification id in canonical form: a UUID in lower-case
// hyphenated text. It accepts the forms people paste: any case, with or
// without hyphens, in braces or as a urn:uuid: URN. Anything else is EINVALID.
func ParseID(id string) (string, error) {
	s := strings.TrimPrefix(strings.ToLower(id), "urn:uuid:")
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	var u [16]byte
	if len(s) != 32 {
		return "", Errorf(EINVALID, "notification id must be a UUID")
	}
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return "", Errorf(EINVALID, "notification id must be a UUID")
	}
	return formatUUID(u), nil
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
