// Package jwt verifies and issues the HS256 JSON Web Tokens that Herald's users
// present, on the WebSocket handshake and on the inbox REST routes. It wraps
// github.com/golang-jwt/jwt/v5 with Herald's rules: one algorithm, an expiry
// on every token, and errors that never echo the token.
package jwt

import (
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
// Config.Leeway is zero: enough for servers whose clocks are NTP-synchronised,
// small enough that an expired token is not honoured for long.
const DefaultLeeway = 5 * time.Second

// MaxTokenLen bounds the tokens Verify parses, so a hostile client cannot make
// the server decode megabytes of base64 before the signature check fails.
const MaxTokenLen = 8 << 10

// algorithm is the one signing method Herald accepts and issues. Pinning it
// shuts out alg:none and the RS/HS key-confusion attacks.
var algorithm = gojwt.SigningMethodHS256

// Config configures a Verifier or an Issuer. Its zero value is valid but has no
// secret, so every token is refused and nothing can be issued.
type Config struct {
	// Secret is the HMAC key shared with whoever issues tokens. An empty
	// secret refuses every token rather than accepting tokens signed with "".
	Secret []byte
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value means none. Issuers ignore it.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
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

// tokenClaims is the JSON payload of a Herald token. UserID is the design
// document's userId claim; sub stands in for it when absent. A userId or
// channels claim of the wrong JSON type fails decoding, and so the token.
type tokenClaims struct {
	UserID   string   `json:"userId,omitempty"`
	Channels []string `json:"channels,omitempty"`
	gojwt.RegisteredClaims
}
