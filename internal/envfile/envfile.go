// Package envfile reads the files of settings Herald takes with --config:
// KEY=VALUE lines, blank lines and # comments, the format of an environment
// file. It reads at most MaxBytes, refuses keys it does not know and keys
// set twice, and names the line of every refusal, so a typo fails at start
// instead of running on a default.
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

// Parse reads KEY=VALUE lines from r. known reports whether a key is a
// setting. A value may be wrapped in one pair of quotes, which are dropped.
func Parse(r io.Reader, known func(key string) bool) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxBytes)
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
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", n)
		case !known(k):
			return nil, fmt.Errorf("line %d: expected KEY=VALUE with a known key, got %q", n, clip(k))
		case first[k] != 0:
			return nil, fmt.Errorf("line %d: %s is set again (first on line %d)", n, k, first[k])
		}
		first[k] = n
		out[k] = unquote(strings.TrimSpace(v))
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d is longer than %d bytes", n+1, MaxLineSize)
	}
	return out, sc.Err()
}

// ReadFile parses the settings file at path.
func ReadFile(path string, known func(key string) bool) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, known)
}

// unquote drops one pair of matching quotes around v.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// clip shortens what is echoed of a bad line, which may hold a secret
// typed on the wrong line: its first 40 bytes at most.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
