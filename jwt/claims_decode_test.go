package jwt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// libraryDecode decodes claims the way the library's own types would:
// tokenClaims' fields with RegisteredClaims' NumericDate and ClaimStrings
// decoders, which UnmarshalJSON replaces for the time claims.
func libraryDecode(data []byte) (tokenClaims, error) {
	type plain tokenClaims
	var c tokenClaims
	err := json.Unmarshal(data, (*plain)(&c))
	return c, err
}

// strict reports whether claims pass Herald's rules beyond the library's:
// one object within the bounds, no member named twice in any case, and the
// time claims (exp, nbf, iat, in any case) JSON numbers from 0 to
// maxNumericDate, never strings of digits.
func strict(data []byte) bool {
	return len(data) <= MaxClaimsBytes && utf8.Valid(data) && checkObject(data, func(name string, value []byte) error {
		if strings.EqualFold(name, "exp") || strings.EqualFold(name, "nbf") || strings.EqualFold(name, "iat") {
			if _, ok := parseDate(value); !ok {
				return errMalformed
			}
		}
		return nil
	}) == nil
}

// checkSameAsLibrary fails t when a claims object that passes the strict
// checks decodes differently from the library's decoding.
func checkSameAsLibrary(t *testing.T, data []byte) {
	t.Helper()
	var got tokenClaims
	err := got.UnmarshalJSON(data)
	if !strict(data) {
		if err == nil {
			t.Fatalf("%s: accepted, though the strict checks refuse it", data)
		}
		return
	}
	want, wantErr := libraryDecode(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, library's %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", data, got, want)
	}
}

var claimsSeeds = []string{
	`{"userId":"u","exp":1893456000}`,
	`{"sub":"u","exp":1893456000.75,"iat":1700000000.5,"nbf":0}`,
	`{"userId":"u","channels":["a","b*"],"typ":"connection","sid":"s","iss":"herald","aud":"x","jti":"j","exp":1e9}`,
	`{"aud":["a","b"],"exp":253402300799,"iat":1.5e9}`,
	`{"exp":-1}`,
	`{"exp":"1893456000"}`,
	`{"exp":null}`,
	`{"aud":1,"exp":1}`,
	`{"channels":"a","exp":1}`,
	`{"userId":7}`,
	`{"EXP":5,"exp":5}`,
	`[]`,
	`{}`,
}

// The claims decode exactly as the library's types decode them, whenever
// the strict checks let them through.
func TestClaimsDecodeAsTheLibraryDoes(t *testing.T) {
	for _, s := range claimsSeeds {
		checkSameAsLibrary(t, []byte(s))
	}
}

func FuzzClaimsDecode(f *testing.F) {
	for _, s := range claimsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsLibrary(t, data)
	})
}
