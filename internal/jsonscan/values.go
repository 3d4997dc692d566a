package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// ErrNotArray is Elements' answer to a value that is not a JSON array.
var ErrNotArray = errors.New("jsonscan: not a JSON array")

// ErrNotString is String's answer to a value that is not a JSON string.
var ErrNotString = errors.New("jsonscan: not a JSON string")

// Elements calls fn with the raw text of each element of value, a JSON
// array, in order. value must be valid JSON, as the values Members passes
// are: Elements checks the brackets, not the text between them. fn's error
// stops the scan and is returned.
func Elements(value []byte, fn func(element []byte) error) error {
	i := skipSpace(value, 0)
	if i == len(value) || value[i] != '[' {
		return ErrNotArray
	}
	for i = skipSpace(value, i+1); i < len(value) && value[i] != ']'; {
		start := i
		i = valueEnd(value, i)
		if err := fn(value[start:i]); err != nil {
			return err
		}
		if i = skipSpace(value, i); i < len(value) && value[i] == ',' {
			i = skipSpace(value, i+1)
		}
	}
	return nil
}

// String returns the text of value, a valid JSON string, unescaped as
// encoding/json unescapes it (and as it replaces bytes that are not UTF-8).
// A string without escapes, the usual kind, is copied out without running
// the decoder.
func String(value []byte) (string, error) {
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return "", ErrNotString
	}
	if bytes.IndexByte(value, '\\') < 0 && utf8.Valid(value) {
		return string(value[1 : len(value)-1]), nil
	}
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return "", ErrNotString
	}
	return s, nil
}
