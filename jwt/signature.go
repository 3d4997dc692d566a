package jwt

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"strings"
	"sync"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// hs256Header is the JOSE header that HS256 signers write —
// {"alg":"HS256","typ":"JWT"}, base64url-encoded: Herald's own issuer,
// golang-jwt, and Node's jsonwebtoken, which the design documents use.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// signature is signedBy's verdict on a token.
type signature int

const (
	// sigUnjudged: not an HS256 token with hs256Header, or a signature
	// that does not decode to 32 bytes. The library judges it.
	sigUnjudged signature = iota
	// sigForged: hs256Header, and a signature none of Herald's secrets made.
	sigForged
	// sigOwn: hs256Header, and a signature one of Herald's secrets made.
	sigOwn
)

// signedBy judges a token that carries hs256Header by its signature,
// before anything in it is decoded. HS256 tokens are checked against
// Herald's secrets only (see keys), so a forged one is refused for an HMAC
// per secret (the library would refuse it too, after decoding its header
// and claims, most of the cost of a refusal): a client sending tokens signed
// with a wrong secret, by mistake or to load the server, costs little. A
// token one of the secrets made needs only its claims decoded and checked
// (see ownClaims): the library would decode a header known already and
// compute the same HMAC again.
func (v *Verifier) signedBy(token string) signature {
	if !strings.HasPrefix(token, hs256Header+".") {
		return sigUnjudged
	}
	dot := strings.LastIndexByte(token, '.')
	enc := token[dot+1:]
	if dot == len(hs256Header) || len(enc) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return sigUnjudged
	}
	var sig [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(sig[:], []byte(enc)); err != nil || n != sha256.Size {
		return sigUnjudged
	}
	var sum [sha256.Size]byte
	for i := range v.own {
		h := v.macs[i].Get().(hash.Hash)
		h.Reset()
		io.WriteString(h, token[:dot])
		match := hmac.Equal(h.Sum(sum[:0]), sig[:])
		v.macs[i].Put(h)
		if match {
			return sigOwn
		}
	}
	return sigForged
}

// ownClaims decodes and checks the claims of a token signedBy found made by
// one of Herald's secrets, as the library would after its header and
// signature: the claims segment decoded strictly and trimmed of JSON's
// white space (as encoding/json hands UnmarshalJSON the value alone), the
// issuer Herald's own (keys gives Herald's secrets to no other), and the
// times checked by the library's validator with the parser's options.
// FuzzOwnClaims holds it to the library's path.
func (v *Verifier) ownClaims(token string) (tokenClaims, error) {
	var tc tokenClaims
	payload := token[len(hs256Header)+1 : strings.LastIndexByte(token, '.')]
	raw, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return tc, errMalformed
	}
	if err := tc.UnmarshalJSON(bytes.Trim(raw, " \t\r\n")); err != nil {
		return tc, err
	}
	if tc.Issuer != v.cfg.Issuer {
		return tc, gojwt.ErrTokenUnverifiable
	}
	return tc, v.validator.Validate(&tc)
}

// newMACs returns a pool of HMAC-SHA256 hashers per secret of own, so that
// signedBy pays for neither the keys' padding nor an allocation per token.
func newMACs(own []Key) []sync.Pool {
	pools := make([]sync.Pool, len(own))
	for i, k := range own {
		secret := k.Public.([]byte)
		pools[i].New = func() any { return hmac.New(sha256.New, secret) }
	}
	return pools
}
