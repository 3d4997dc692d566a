// Package envfile reads the files of settings Herald takes with --config:
// KEY=VALUE lines, blank lines and # comments (on their own line or after
// a value), the format of an environment file such as the design
// documents' .env. It reads at most MaxBytes, refuses keys set twice and
// lines that are no KEY=VALUE, and names the line of every refusal; keys it
// does not know are returned apart, so the caller can warn about them
// without failing on another program's settings in a shared file.
package envfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Bounds of a settings file: far beyond the hundred short lines a real one
// has, far below what would hurt a server reading it at start.
const (
	MaxBytes    = 1 << 20
	MaxLineSize = 64 << 10
)

// Unknown is a key of the file that is no setting, and its line.
type Unknown struct {
	Key  string
	Line int
}

// Parse reads KEY=VALUE lines from r. known reports whether a key is a
// setting; the others are returned in unknown, in file order, and left out
// of vals. A value may be wrapped in one pair of quotes, which are dropped;
// outside quotes a # after a space or tab starts a comment.
func Parse(r io.Reader, known func(key string) bool) (vals map[string]string, unknown []Unknown, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxBytes {
		return nil, nil, fmt.Errorf("larger than %d bytes", MaxBytes)
	}
	out := map[string]string{}
	first := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok: // never echoed: a lone line may be a secret pasted on its own
			return nil, nil, fmt.Errorf("line %d: expected KEY=VALUE", n)
		case !validKey(k):
			return nil, nil, fmt.Errorf("line %d: expected KEY=VALUE with a key of letters, digits and _, got %q", n, clip(k))
		case first[k] != 0:
			return nil, nil, fmt.Errorf("line %d: %s is set again (first on line %d)", n, k, first[k])
		}
		first[k] = n
		val, err := value(v)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %s: %v", n, k, err)
		}
		if !known(k) {
			unknown = append(unknown, Unknown{Key: k, Line: n})
			continue
		}
		out[k] = val
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, nil, fmt.Errorf("line %d is longer than %d bytes", n+1, MaxLineSize)
	}
	if sc.Err() != nil {
		return nil, nil, sc.Err()
	}
	return out, unknown, nil
}

// value reads what follows a line's =: a quoted value up to its closing
// quote, or the text up to a # that follows a space or tab, trimmed.
func value(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			rest := strings.TrimSpace(v[end+2:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return "", errors.New("text after the closing quote")
			}
			return v[1 : end+1], nil
		}
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i]), nil
		}
	}
	return v, nil
}

// validKey reports whether k is an environment variable's name: a letter
// or _ first, then letters, digits and _.
func validKey(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ReadFile parses the settings file at path.
func ReadFile(path string, known func(key string) bool) (map[string]string, []Unknown, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return Parse(f, known)
}

// clip shortens what is echoed of a bad line, which may hold a secret
// typed on the wrong line: its first 40 bytes at most.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
