package jwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/internal/jsonscan"
)

// maxNumericDate is the latest time claim accepted: 9999-12-31T23:59:59Z.
// Larger numbers are no time a clock will show, and beyond 2^63 nanoseconds
// they would wrap around when converted.
const maxNumericDate = 253402300799

// maxMembers bounds the members of the header and of the claims: Herald's
// tokens have a dozen, an identity provider's a few dozen.
const maxMembers = 64

// isTimeClaim reports whether name is one of the NumericDate claims of RFC
// 7519 (exp, nbf, iat), in any case, as encoding/json would match it. Each
// must be a JSON number: the library Herald builds on also reads a string
// holding digits ("exp":"9999999999") as the number, which lets a token
// issuer's bug or a confused backend mint tokens other verifiers refuse.
func isTimeClaim(name string) bool {
	return strings.EqualFold(name, "exp") || strings.EqualFold(name, "nbf") || strings.EqualFold(name, "iat")
}

var errMalformed = errors.New("jwt: malformed token")

// tokenClaims is the JSON payload of a Herald token. UserID is the design
// document's userId claim; sub stands in for it when absent. A claim of the
// wrong JSON type fails decoding, and so the token.
type tokenClaims struct {
	UserID    string   `json:"userId,omitempty"`
	Channels  []string `json:"channels,omitempty"`
	Type      string   `json:"typ,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	gojwt.RegisteredClaims
}

// UnmarshalJSON decodes claims strictly: one JSON object of valid UTF-8
// within MaxClaimsBytes and MaxJSONDepth, no member named twice, time claims
// JSON numbers from 0 to year 9999. Then the fields decode as usual.
func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	if len(data) > MaxClaimsBytes || !utf8.Valid(data) {
		return errMalformed // encoding/json would turn broken bytes into U+FFFD
	}
	if err := checkObject(data, true); err != nil {
		return err
	}
	// The time claims decode as json.Number and are converted here rather
	// than by the library's NumericDate, whose UnmarshalJSON runs a second
	// json.Unmarshal per claim: that was half the cost of decoding a token's
	// claims, and a sixteenth of the server's CPU while clients connect
	// and disconnect (issue 12). checkObject has already made each of them
	// a JSON number within bounds. The fields below shadow the embedded
	// ones of the same JSON names (encoding/json takes the shallower field),
	// so every other claim decodes into tokenClaims itself.
	type plain tokenClaims // the same fields without this method
	var w struct {
		plain
		ExpiresAt json.Number `json:"exp,omitempty"`
		NotBefore json.Number `json:"nbf,omitempty"`
		IssuedAt  json.Number `json:"iat,omitempty"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*c = tokenClaims(w.plain)
	var err error
	if c.ExpiresAt, err = toNumericDate(w.ExpiresAt); err != nil {
		return err
	}
	if c.NotBefore, err = toNumericDate(w.NotBefore); err != nil {
		return err
	}
	c.IssuedAt, err = toNumericDate(w.IssuedAt)
	return err
}

// toNumericDate converts a time claim as the library's NumericDate does
// (seconds, a fraction allowed, truncated to its TimePrecision); an absent
// claim is nil.
func toNumericDate(n json.Number) (*gojwt.NumericDate, error) {
	if n == "" {
		return nil, nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, errMalformed
	}
	whole, frac := math.Modf(f)
	return gojwt.NewNumericDate(time.Unix(int64(whole), int64(frac*1e9))), nil
}

// screen checks a token's shape before the library decodes it: three
// segments, a header and claims within their bounds as encoded, and a header
// that is one JSON object naming no member twice.
func screen(token string) error {
	if len(token) > MaxTokenLen {
		return errMalformed
	}
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return errMalformed
	}
	claims, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return errMalformed
	}
	enc := base64.RawURLEncoding.Strict()
	if len(header) > enc.EncodedLen(MaxHeaderBytes) || len(claims) > enc.EncodedLen(MaxClaimsBytes) {
		return errMalformed
	}
	raw, err := enc.DecodeString(header)
	if err != nil || !utf8.Valid(raw) {
		return errMalformed
	}
	return checkObject(raw, false)
}

// checkObject reads data as exactly one JSON object, nested at most
// MaxJSONDepth deep, of at most maxMembers members whose names are distinct
// even to encoding/json, which matches them regardless of case ("exp",
// "\u0065xp" and "EXP" would all fill exp). When times is set, the time
// claims must be numbers from 0 to maxNumericDate. It runs on every token,
// before the signature is checked, so it scans rather than decodes.
func checkObject(data []byte, times bool) error {
	if jsonscan.Exceeds(data, MaxJSONDepth) {
		return errMalformed
	}
	return jsonscan.Members(data, maxMembers, func(name string, value []byte) error {
		if times && isTimeClaim(name) && !numericDate(value) {
			return errMalformed
		}
		return nil
	})
}

// numericDate reports whether v, a JSON value, is a number from 0 to
// maxNumericDate.
func numericDate(v []byte) bool {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return false // a string, true, false, null, an array or an object
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return err == nil && f >= 0 && f <= maxNumericDate
}
