// Package jwt verifies and issues the JSON Web Tokens that Herald's users and
// backends present, on the WebSocket handshake and on the REST routes. It
// wraps github.com/golang-jwt/jwt/v5 with Herald's rules:
//
//   - Herald's own tokens are HS256 with a shared secret (and, during a
//     rotation, the previous secrets); other issuers' tokens are RS256, ES256
//     or EdDSA, verified with public keys from PEM files or a JWKS file or
//     URL. Keys belong to an issuer (iss), are chosen by kid, and a key's type
//     fixes its one algorithm, so alg:none and RS/HS confusion are refused.
//   - Token kinds are kept apart by the typ claim: connection, access and
//     refresh (none means connection). A Verifier accepts the kinds it is
//     configured for, and access and refresh tokens only from Herald itself.
//   - Every token has an expiry; iss and aud are checked when configured.
//   - Errors never echo the token, and jku and x5u headers are never followed.
//
// An HS256 token under the header every common signer writes is judged by its
// signature before anything in it is decoded (signature.go): refused at once
// when no secret made it, and when one did, only its claims are decoded, in
// one strict pass, and checked with the library's validator. That path gives
// the library's verdict (FuzzOwnClaims) at a third of its cost, paid on every
// connect and every API request.
package jwt

import (
	"context"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
// Config.Leeway is zero: enough for servers whose clocks are NTP-synchronised,
// small enough that an expired token is not honoured for long.
const DefaultLeeway = 5 * time.Second

// Bounds of the tokens Verify parses, checked before anything is decoded, so
// a hostile client cannot make the server decode megabytes of base64 or walk
// deep JSON before the signature check fails.
const (
	// MaxTokenLen bounds a whole token, in bytes as sent.
	MaxTokenLen = 8 << 10
	// MaxHeaderBytes bounds the decoded JOSE header: alg, typ and kid need
	// a few dozen bytes.
	MaxHeaderBytes = 1 << 10
	// MaxClaimsBytes bounds the decoded claims (base64url makes them a third
	// longer on the wire, so they also fit MaxTokenLen).
	MaxClaimsBytes = 5 << 10
	// MaxJSONDepth bounds the nesting of the header and the claims; Herald's
	// own claims nest two deep (an object holding the channels array).
	MaxJSONDepth = 16
)

// algorithm is the one method Herald signs with. Pinning it for Herald's
// secret shuts out alg:none and HS384/HS512 downgrades of its own tokens.
var algorithm = gojwt.SigningMethodHS256

// methods are the signing methods any token may use; the key decides which
// one a given token must.
var methods = []string{
	gojwt.SigningMethodHS256.Alg(),
	gojwt.SigningMethodRS256.Alg(),
	gojwt.SigningMethodES256.Alg(),
	gojwt.SigningMethodEdDSA.Alg(),
}

// Config configures a Verifier or an Issuer. Its zero value is valid but has no
// key, so every token is refused and nothing can be issued.
type Config struct {
	// Secret is the HS256 key shared with whoever issues tokens. An empty
	// secret refuses every HS256 token rather than accepting tokens signed
	// with "". Issuers sign with it.
	Secret []byte
	// PreviousSecrets are HS256 keys still accepted while tokens signed with
	// them may be alive: the rotation of Secret. They never sign.
	PreviousSecrets [][]byte
	// Issuer is Herald's own iss. Issued tokens carry it, and HS256 tokens
	// must carry it (or carry none, when it is empty).
	Issuer string
	// Audience, when set, must be among the aud of every token verified
	// (unless a TrustedIssuer says otherwise), and issued tokens carry it.
	Audience string
	// Trusted are other issuers whose public keys verify their connection
	// tokens. A verifier never accepts an access or refresh token from them.
	Trusted []TrustedIssuer
	// Kinds are the token kinds a Verifier accepts. Default: connection and
	// access, which is what /ws and the API take; the refresh endpoint's
	// verifier takes refresh only.
	Kinds []herald.TokenKind
	// Revoked, when set, is asked about every token that passes the other
	// checks; true refuses it (a logged-out session, a disabled account),
	// and an error refuses it as EINTERNAL.
	Revoked func(ctx context.Context, c *herald.Claims) (bool, error)
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value means none. Issuers ignore it.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TrustedIssuer is an issuer other than Herald whose tokens Herald accepts
// as connection tokens: an identity provider, or a backend signing with its
// own key pair.
type TrustedIssuer struct {
	// Name is the iss its tokens carry; tokens of other issuers never meet
	// its keys.
	Name string
	// Audience, when set, replaces Config.Audience for its tokens.
	Audience string
	// Keys are static keys, from PEM files or a JWKS file.
	Keys []Key
	// JWKS, when set, adds the keys of a set fetched from a URL.
	JWKS *JWKS
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c Config) leeway() time.Duration {
	switch {
	case c.Leeway == 0:
		return DefaultLeeway
	case c.Leeway < 0:
		return 0
	}
	return c.Leeway
}
