package envfile_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/envfile"
)

func known(k string) bool { return k == "PORT" || k == "JWT_SECRET" || k == "HERALD_LOG_LEVEL" }

func TestParse(t *testing.T) {
	got, unknown, err := envfile.Parse(strings.NewReader("# a comment\n\n PORT = 4000 \nJWT_SECRET=\"a=b c\"\r\nHERALD_LOG_LEVEL='debug'\n"), known)
	if err != nil || len(unknown) != 0 {
		t.Fatal(err, unknown)
	}
	want := map[string]string{"PORT": "4000", "JWT_SECRET": "a=b c", "HERALD_LOG_LEVEL": "debug"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestParseInlineCommentsAndUnknownKeys reads the design documents' .env
// shape: a # after a value is a comment, inside quotes or glued to the
// value it is not; keys that are no setting come back with their lines.
func TestParseInlineCommentsAndUnknownKeys(t *testing.T) {
	text := "PORT=3007  # the port\nWS_MAX_CONNECTIONS=1000\nJWT_SECRET='a # b' # quoted\nHERALD_LOG_LEVEL=de#bug\n"
	got, unknown, err := envfile.Parse(strings.NewReader(text), known)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PORT": "3007", "JWT_SECRET": "a # b", "HERALD_LOG_LEVEL": "de#bug"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) || len(unknown) != 1 || unknown[0] != (envfile.Unknown{Key: "WS_MAX_CONNECTIONS", Line: 2}) {
		t.Errorf("got %v, unknown %v", got, unknown)
	}
}

// TestParseRefuses covers the hostile and mistaken files: each is refused
// with the line it fails on, and a line holding no key is never echoed.
func TestParseRefuses(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"no equals":        {"PORT=1\nsuper-secret-pasted-alone\n", "line 2: expected KEY=VALUE"},
		"set twice":        {"PORT=1\n# again\nPORT=2\n", "line 3: PORT is set again (first on line 1)"},
		"line too long":    {"PORT=1\nJWT_SECRET=" + strings.Repeat("x", envfile.MaxLineSize) + "\n", "line 2 is longer than"},
		"file too large":   {strings.Repeat("# padding\n", envfile.MaxBytes/10+1), "larger than"},
		"overlong key":     {strings.Repeat("K", 200) + "=1\n", `got "KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK…"`},
		"NUL in the key":   {"PO\x00RT=1\n", "letters, digits and _"},
		"invalid UTF-8":    {"\xff\xfe=1\n", "letters, digits and _"},
		"space in the key": {"MY PORT=1\n", "letters, digits and _"},
		"after the quote":  {"JWT_SECRET=\"abc\" def\n", "line 1: JWT_SECRET: text after the closing quote"},
	} {
		_, _, err := envfile.Parse(strings.NewReader(c.text), known)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "super-secret") {
			t.Errorf("%s: the error echoes a line: %v", name, err)
		}
	}
}

// TestParseEndlessInput reads from an endless source, as a --config of
// /dev/zero would be: it stops at MaxBytes.
func TestParseEndlessInput(t *testing.T) {
	_, _, err := envfile.Parse(endless{}, known)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	copy(p, bytes.Repeat([]byte("#"), len(p)))
	return len(p), nil
}

// FuzzParse feeds the parser arbitrary files: it must never panic, and what
// it accepts holds only known keys with values that are a trimmed line's
// remainder (no newline).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"PORT=3007\n", "# c\n\nPORT = '1'\n", "PORT=\"\n", "PORT=1\nPORT=2\n", "=\n", "PORT\n", "\xff=\x00\n",
		"JWT_SECRET=a=b\r\n", "HERALD_LOG_LEVEL=\"'\"\n", strings.Repeat("PORT=1", 1000),
		"PORT=1 # c\nWS_PORT=2\n", "JWT_SECRET='a # b' # c\n", "JWT_SECRET=a#b\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, unknown, err := envfile.Parse(strings.NewReader(text), known)
		if err != nil {
			return
		}
		for _, u := range unknown {
			if known(u.Key) || u.Line < 1 {
				t.Fatalf("unknown %+v", u)
			}
		}
		for k, v := range got {
			if !known(k) {
				t.Fatalf("accepted unknown key %q", k)
			}
			if strings.ContainsAny(v, "\n") {
				t.Fatalf("value of %s spans lines: %q", k, v)
			}
		}
	})
}
