package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrNotObject is Members' answer to text that is not one JSON object.
var ErrNotObject = errors.New("jsonscan: not a JSON object")

// DuplicateError is Members' answer to an object naming a member twice.
type DuplicateError struct{ Name string }

func (e *DuplicateError) Error() string { return "jsonscan: member " + e.Name + " is given twice" }

// Members calls fn with the name (unescaped) and the raw value of each
// top-level member of data, in order, after checking data is one valid JSON
// object of at most maxMembers members (0: no limit). Two names that
// encoding/json would match to one field, because they are equal after
// unescaping or differ only in case ("exp", "\u0065xp" and "EXP"), are a
// *DuplicateError: decoders resolve duplicates differently (first wins,
// last wins, error), and the difference is where requests get smuggled.
// fn's error stops the scan and is returned.
func Members(data []byte, maxMembers int, fn func(name string, value []byte) error) error {
	if !json.Valid(data) {
		return ErrNotObject
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return ErrNotObject
	}
	// names holds the names so far, compared with strings.EqualFold, which
	// allocates nothing; past a handful, seen holds their Fold keys, as a
	// set beats a scan.
	var names []string
	var seen map[string]bool
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := stringEnd(data, i)
		// Unescaped, and bytes that are not UTF-8 made U+FFFD, as
		// encoding/json reads it: two names that differ only there are
		// one name to it.
		name, err := String(data[i:end])
		if err != nil {
			return ErrNotObject
		}
		if maxMembers > 0 && len(names) == maxMembers {
			return ErrNotObject
		}
		if duplicate(names, seen, name) {
			return &DuplicateError{Name: name}
		}
		names = append(names, name)
		if seen != nil {
			seen[Fold(name)] = true
		} else if len(names) == 16 {
			seen = make(map[string]bool, 32)
			for _, n := range names {
				seen[Fold(n)] = true
			}
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		start := i
		i = valueEnd(data, i)
		if fn != nil {
			if err := fn(name, data[start:i]); err != nil {
				return err
			}
		}
		if i = skipSpace(data, i); data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return nil
}

// duplicate reports whether name equals, to encoding/json, one of names,
// or one of the keys in seen when there is a set.
func duplicate(names []string, seen map[string]bool, name string) bool {
	if seen != nil {
		return seen[Fold(name)]
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Fold maps name to one key per class of names strings.EqualFold (and so
// encoding/json's field matching) holds equal: each rune becomes the
// smallest rune of its simple case-folding orbit, so "k", "K" and the Kelvin
// sign U+212A are all "K", and "s", "S" and the long s U+017F all "S".
func Fold(name string) string {
	ascii := true
	for i := 0; i < len(name) && ascii; i++ {
		ascii = name[i] < utf8.RuneSelf
	}
	if ascii {
		return strings.ToUpper(name) // K and S fold beyond ASCII, but to larger runes
	}
	var b strings.Builder
	for _, r := range name {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// The helpers below read text json.Valid accepted, so they need not check
// what it already did.

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
	for i < len(data) && bytes.IndexByte([]byte(",}] \t\n\r"), data[i]) < 0 {
		i++
	}
	return i
}
