package jwt

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"slices"
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
	// sigUnjudged: neither hs256Header nor the header Herald's Issuer writes
	// for one of its secrets (see ownHeaders), or a signature that does not
	// decode to 32 bytes. The library judges it.
	sigUnjudged signature = iota
	// sigForged: one of those headers, and a signature none of the secrets
	// it names made.
	sigForged
	// sigOwn: one of those headers, and a signature a secret it names made.
	sigOwn
)

// ownHeaders returns, for each of Herald's secrets in own, the encoded JOSE
// header its Issuer writes (issuedToken).
func ownHeaders(own []Key) []string {
	heads := make([]string, len(own))
	for i, k := range own {
		s, err := issuedToken(k.ID, gojwt.MapClaims{}).SigningString()
		if err != nil {
			// A header of strings and empty claims always encode. An
			// empty entry would let screen pass an empty header unread.
			panic("jwt: cannot encode the Issuer's header: " + err.Error())
		}
		heads[i], _, _ = strings.Cut(s, ".")
	}
	return heads
}

// signedBy judges, by its signature and before anything in it is decoded,
// a token under hs256Header (which any of Herald's secrets may have signed)
// or under the header Herald's Issuer writes with a secret's kid (which
// only that secret may have signed, as keys would pick it alone). HS256
// tokens are checked against Herald's secrets only (see keys), so a forged
// one is refused for an HMAC per secret (the library would refuse it too,
// after decoding its header and claims, most of the cost of a refusal): a
// client sending tokens signed with a wrong secret, by mistake or to load
// the server, costs little. A token one of the secrets made needs only its
// claims decoded and checked (see ownClaims): the library would decode a
// header known already and compute the same HMAC again.
func (v *Verifier) signedBy(token string) signature {
	head, _, _ := strings.Cut(token, ".")
	one := -1 // the one secret a kid header names; -1: any
	if head != hs256Header {
		if one = slices.Index(v.heads, head); one < 0 {
			return sigUnjudged
		}
	}
	dot := strings.LastIndexByte(token, '.')
	enc := token[dot+1:]
	if dot == len(head) || len(enc) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return sigUnjudged
	}
	var sig [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(sig[:], []byte(enc)); err != nil || n != sha256.Size {
		return sigUnjudged
	}
	var sum [sha256.Size]byte
	for i := range v.own {
		if one >= 0 && i != one {
			continue
		}
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
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
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
