package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/jsonscan"
)

// MaxJSONDepth bounds how deeply a request body's JSON may nest, objects and
// arrays counted (Herald's own bodies nest three deep; the rest is room for
// an application's data). Deeper bodies are refused before decoding: they
// would be stored and sent to every client, and some decoders and databases
// fail on them.
const MaxJSONDepth = 32

// readBody reads r's body, at most limit bytes of UTF-8 JSON nested at most
// MaxJSONDepth deep. A body declared or
// found larger is ETOOLARGE; a Content-Type other than JSON is EUNSUPPORTED
// (no Content-Type at all is accepted, for curl users).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.EqualFold(ct, "application/json") {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, herald.Errorf(herald.EUNSUPPORTED, "Content-Type must be application/json")
		}
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		// net/http ends a body of declared length at that length. A
		// small one is read into a buffer of its size; a large one as
		// its bytes arrive, so that a client declaring bodies it never
		// sends cannot make the server allocate them. Either is closed
		// once read: a body closed at its end is one net/http has nothing
		// left to drain of before the next request on the connection.
		if r.ContentLength <= eagerBody {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(r.Body)
		}
		if err == nil {
			err = r.Body.Close()
		}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, herald.Errorf(herald.EINVALID, "Cannot read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, herald.Errorf(herald.EINVALID, "Request body is required")
	}
	if !utf8.Valid(body) {
		return nil, herald.Errorf(herald.EINVALID, "Request body must be valid UTF-8")
	}
	if jsonscan.Exceeds(body, MaxJSONDepth) {
		return nil, herald.Errorf(herald.EINVALID, "Request body nests deeper than %d levels", MaxJSONDepth)
	}
	return body, nil
}

// eagerBody is the largest declared body readBody allocates before its
// bytes arrive.
const eagerBody = 64 << 10

func tooLarge(limit int64) error {
	return herald.Errorf(herald.ETOOLARGE, "Request body is larger than %d bytes", limit)
}

// decodeObject decodes the JSON object body into v. Unknown fields are
// ignored; a known field of the wrong type is an error naming it. useNumber
// keeps numbers in maps as json.Number, so large ids keep every digit.
func decodeObject(body []byte, v any, useNumber bool) error {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return herald.Errorf(herald.EINVALID, "Request body must be a JSON object")
	}
	var err error
	if useNumber {
		// Only a Decoder keeps numbers as json.Number; it copies the body
		// into a buffer of its own first.
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err = dec.Decode(v); err == nil {
			if _, terr := dec.Token(); terr != io.EOF {
				err = errors.New("trailing data")
			}
		}
	} else {
		// Unmarshal refuses trailing data itself, and reads body in place.
		err = json.Unmarshal(body, v)
	}
	var te *json.UnmarshalTypeError
	var he *herald.Error
	switch {
	case err == nil:
		return checkNames(body)
	case errors.As(err, &he): // from a field's own UnmarshalJSON, such as a batch item's
		return he
	case errors.As(err, &te) && te.Field != "":
		return herald.Errorf(herald.EINVALID, "%s must be %s", te.Field, jsonKind(te.Type))
	}
	return herald.Errorf(herald.EINVALID, "Request body is not valid JSON")
}

// checkNames refuses an object that names a member twice, or twice up to
// case, which encoding/json matches to one field: {"userId":"a","userId":"b"}
// or {"userId":"a","USERID":"b"}. Decoders disagree on which one wins, so a
// proxy or a backend checking the body could see another user than Herald.
func checkNames(body []byte) error {
	var dup *jsonscan.DuplicateError
	switch err := jsonscan.Members(body, 0, nil); {
	case err == nil:
		return nil
	case errors.As(err, &dup) && len(dup.Name) <= 64 && printable(dup.Name):
		return herald.Errorf(herald.EINVALID, "Request body names %q more than once", dup.Name)
	case dup != nil:
		return herald.Errorf(herald.EINVALID, "Request body names a member more than once")
	}
	return herald.Errorf(herald.EINVALID, "Request body is not valid JSON")
}

// jsonKind names the JSON type that Go type t decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "a number"
}

// compactObject returns body compacted, once, for every recipient to share.
// It must hold one JSON object.
func compactObject(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body))
	if err := json.Compact(&buf, body); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, herald.Errorf(herald.EINVALID, "Request body must be a JSON object")
	}
	return buf.Bytes(), nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// checkNotificationID validates a notification id from field.
func checkNotificationID(field, id string) error {
	if id == "" || len(id) > herald.MaxKeyLen || !printable(id) {
		return herald.Errorf(herald.EINVALID, "%s must be 1 to %d bytes of printable text", field, herald.MaxKeyLen)
	}
	return nil
}
