package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"strings"
	"sync"
)

// hs256Header is the JOSE header that HS256 signers write —
// {"alg":"HS256","typ":"JWT"}, base64url-encoded: Herald's own issuer,
// golang-jwt, and Node's jsonwebtoken, which the design documents use.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// forged reports whether token has that header and a signature that none of
// Herald's secrets made. Such a token is refused before anything in it is
// decoded: HS256 tokens are checked against those secrets only (see keys),
// so the library would refuse it too, after decoding its header and
// claims, most of the cost of a refusal. A client sending tokens signed
// with a wrong secret, by mistake or to load the server, is refused for an
// HMAC per secret. A token it does not judge (another header, a signature
// that does not decode to 32 bytes, or one a secret made) goes through the
// library's checks as any other.
func (v *Verifier) forged(token string) bool {
	if !strings.HasPrefix(token, hs256Header+".") {
		return false
	}
	dot := strings.LastIndexByte(token, '.')
	enc := token[dot+1:]
	if dot == len(hs256Header) || len(enc) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	var sig [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(sig[:], []byte(enc)); err != nil || n != sha256.Size {
		return false
	}
	var sum [sha256.Size]byte
	for i := range v.own {
		h := v.macs[i].Get().(hash.Hash)
		h.Reset()
		io.WriteString(h, token[:dot])
		match := hmac.Equal(h.Sum(sum[:0]), sig[:])
		v.macs[i].Put(h)
		if match {
			return false
		}
	}
	return true
}

// newMACs returns a pool of HMAC-SHA256 hashers per secret of own, so that
// forged pays for neither the keys' padding nor an allocation per token.
func newMACs(own []Key) []sync.Pool {
	pools := make([]sync.Pool, len(own))
	for i, k := range own {
		secret := k.Public.([]byte)
		pools[i].New = func() any { return hmac.New(sha256.New, secret) }
	}
	return pools
}
