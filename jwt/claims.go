package jwt

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
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
// JSON numbers from 0 to year 9999. The members decode as encoding/json
// would decode them into tokenClaims, with the library's NumericDate and
// ClaimStrings for the registered claims (FuzzClaimsDecode holds it to
// that), but in the one pass that checks them: json.Unmarshal's reflection
// and its second validation of the text were most of the cost of a token
// check, paid on every connect (issue 12).
func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	if len(data) > MaxClaimsBytes || !utf8.Valid(data) {
		return errMalformed // encoding/json would turn broken bytes into U+FFFD
	}
	var t tokenClaims
	if err := checkObject(data, t.decode); err != nil {
		return err
	}
	*c = t
	return nil
}

// errClaimType refuses a claim of the wrong JSON type, as encoding/json's
// UnmarshalTypeError and the library's ErrInvalidType do.
var errClaimType = errors.New("jwt: a claim of the wrong type")

// claimList is the JSON names of the claims tokenClaims holds.
var claimList = []string{"userId", "channels", "typ", "sid", "iss", "sub", "aud", "jti", "exp", "nbf", "iat"}

// claimNames maps the folded name of each claim of claimList (see
// jsonscan.Fold) to its JSON name: encoding/json fills a field from a member
// whose name equals the field's in any case.
var claimNames = func() map[string]string {
	m := make(map[string]string)
	for _, n := range claimList {
		m[jsonscan.Fold(n)] = n
	}
	return m
}()

// decode sets the claim named name from its JSON value; a member it does
// not know is ignored, as encoding/json ignores it.
func (c *tokenClaims) decode(name string, value []byte) error {
	if !slices.Contains(claimList, name) { // the exact name, the usual case, is not folded
		if name = claimNames[jsonscan.Fold(name)]; name == "" {
			return nil
		}
	}
	var err error
	switch name {
	case "userId":
		err = decodeString(value, &c.UserID)
	case "typ":
		err = decodeString(value, &c.Type)
	case "sid":
		err = decodeString(value, &c.SessionID)
	case "iss":
		err = decodeString(value, &c.Issuer)
	case "sub":
		err = decodeString(value, &c.Subject)
	case "jti":
		err = decodeString(value, &c.ID)
	case "channels":
		c.Channels, err = decodeStrings(value)
	case "aud":
		c.Audience, err = decodeAudience(value)
	case "exp":
		c.ExpiresAt, err = decodeDate(value)
	case "nbf":
		c.NotBefore, err = decodeDate(value)
	case "iat":
		c.IssuedAt, err = decodeDate(value)
	}
	return err
}

// decodeString sets *dst from a JSON string; null leaves it as it is.
func decodeString(value []byte, dst *string) error {
	if string(value) == "null" {
		return nil
	}
	s, err := jsonscan.String(value)
	if err != nil {
		return errClaimType
	}
	*dst = s
	return nil
}

// decodeStrings decodes a []string: null is nil, [] is empty but not nil,
// and a null element is "".
func decodeStrings(value []byte) ([]string, error) {
	if string(value) == "null" {
		return nil, nil
	}
	out := []string{}
	err := jsonscan.Elements(value, func(e []byte) error {
		var s string
		err := decodeString(e, &s)
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, errClaimType
	}
	return out, nil
}

// decodeAudience decodes aud as the library's ClaimStrings does: one string
// or an array of strings only, [] and null both nil.
func decodeAudience(value []byte) (gojwt.ClaimStrings, error) {
	switch {
	case string(value) == "null":
		return nil, nil
	case value[0] == '"':
		s, err := jsonscan.String(value)
		if err != nil {
			return nil, errClaimType
		}
		return gojwt.ClaimStrings{s}, nil
	}
	var aud gojwt.ClaimStrings
	err := jsonscan.Elements(value, func(e []byte) error {
		s, err := jsonscan.String(e)
		aud = append(aud, s)
		return err
	})
	if err != nil {
		return nil, errClaimType
	}
	return aud, nil
}

// decodeDate converts a time claim (exp, nbf, iat) as the library's
// NumericDate does (seconds, a fraction allowed, truncated to its
// TimePrecision). It must be a JSON number from 0 to maxNumericDate: the
// library also reads a string holding digits ("exp":"9999999999") as the
// number, which lets a token issuer's bug or a confused backend mint tokens
// other verifiers refuse.
func decodeDate(value []byte) (*gojwt.NumericDate, error) {
	f, ok := parseDate(value)
	if !ok {
		return nil, errMalformed
	}
	whole, frac := math.Modf(f)
	return gojwt.NewNumericDate(time.Unix(int64(whole), int64(frac*1e9))), nil
}

// screen checks a token's shape before the library decodes it: three
// segments, a header and claims within their bounds as encoded, and a header
// that is one JSON object naming no member twice. A header among known
// (hs256Header, the headers Herald's Issuer writes) is known to pass.
func screen(token string, known []string) error {
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
	if header == hs256Header || slices.Contains(known, header) {
		return nil
	}
	raw, err := enc.DecodeString(header)
	if err != nil || !utf8.Valid(raw) {
		return errMalformed
	}
	return checkObject(raw, nil)
}

// checkObject reads data as exactly one JSON object, nested at most
// MaxJSONDepth deep, of at most maxMembers members whose names are distinct
// even to encoding/json, which matches them regardless of case ("exp",
// "\u0065xp" and "EXP" would all fill exp), and passes each member to fn
// (nil: none). It runs on every token, before the signature is checked, so
// it scans rather than decodes.
func checkObject(data []byte, fn func(name string, value []byte) error) error {
	if jsonscan.Exceeds(data, MaxJSONDepth) {
		return errMalformed
	}
	return jsonscan.Members(data, maxMembers, fn)
}

// parseDate returns v, a JSON value, as seconds, if it is a number from 0
// to maxNumericDate.
func parseDate(v []byte) (float64, bool) {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false // a string, true, false, null, an array or an object
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil && f >= 0 && f <= maxNumericDate
}
