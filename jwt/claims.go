package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	gojwt "github.com/golang-jwt/jwt/v5"
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
func isTimeClaim(name []byte) bool {
	for _, c := range []string{"exp", "nbf", "iat"} {
		if bytes.EqualFold(name, []byte(c)) {
			return true
		}
	}
	return false
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

// UnmarshalJSON decodes claims strictly: one JSON object within
// MaxClaimsBytes and MaxJSONDepth, no member named twice, time claims JSON
// numbers from 0 to year 9999. Then the fields decode as usual.
func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	if len(data) > MaxClaimsBytes {
		return errMalformed
	}
	if err := checkObject(data, true); err != nil {
		return err
	}
	type plain tokenClaims // the same fields without this method
	return json.Unmarshal(data, (*plain)(c))
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
	if err != nil {
		return errMalformed
	}
	return checkObject(raw, false)
}

// checkObject reads data as exactly one JSON object, nested at most
// MaxJSONDepth deep, of at most maxMembers members whose names are distinct
// after unescaping and case folding ("exp", "\u0065xp" and "EXP" are one
// name to encoding/json). When times is set, the time claims must be numbers
// from 0 to maxNumericDate. It scans the
// text once after json.Valid, without building values: it runs on every
// token, before the signature is checked.
func checkObject(data []byte, times bool) error {
	if !json.Valid(data) {
		return errMalformed
	}
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' || depth(data[i:]) > MaxJSONDepth {
		return errMalformed
	}
	var names [][]byte
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := stringEnd(data, i)
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return errMalformed
			}
			name = []byte(s)
		}
		// encoding/json matches names regardless of case, so "EXP" and
		// "USERID" would fill exp and userId: compare as it does.
		for _, n := range names {
			if bytes.EqualFold(n, name) {
				return errMalformed
			}
		}
		if len(names) == maxMembers {
			return errMalformed
		}
		names = append(names, name)
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		start := i
		i = valueEnd(data, i)
		if times && isTimeClaim(name) && !numericDate(data[start:i]) {
			return errMalformed
		}
		if i = skipSpace(data, i); data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return nil
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

// The scanning helpers below read text json.Valid accepted, so they need not
// check what it already did.

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at data[i] == '"'.
func stringEnd(data []byte, i int) int {
	for i++; data[i] != '"'; i++ {
		if data[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd returns the index just past the value starting at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		level := 0
		for ; ; i++ {
			switch data[i] {
			case '"':
				i = stringEnd(data, i) - 1
			case '{', '[':
				level++
			case '}', ']':
				if level--; level == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(data) && !strings.ContainsRune(",}] \t\n\r", rune(data[i])) {
		i++
	}
	return i
}

// depth returns the deepest nesting of objects and arrays in data.
func depth(data []byte) int {
	level, deepest := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i = stringEnd(data, i) - 1
		case '{', '[':
			level++
			deepest = max(deepest, level)
		case '}', ']':
			level--
		}
	}
	return deepest
}
