package jsonscan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/jsonscan"
)

func TestDepth(t *testing.T) {
	for text, want := range map[string]int{
		`1`:                  0,
		`"[[[["`:             0,
		`{}`:                 1,
		`{"a":[1,{"b":[]}]}`: 4,
		`["\"[[", [[]]]`:     3,
		`[[[`:                3, // malformed: still what a decoder would reach
		`"unterminated [[`:   0,
		`"\`:                 0,
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000): 100000,
	} {
		if got := jsonscan.Depth([]byte(text)); got != want {
			t.Errorf("Depth(%.20q) = %d, want %d", text, got, want)
		}
		for _, limit := range []int{0, 1, 3, 4, 100000} {
			if got := jsonscan.Exceeds([]byte(text), limit); got != (want > limit) {
				t.Errorf("Exceeds(%.20q, %d) = %v, want %v", text, limit, got, want > limit)
			}
		}
	}
}

func TestMembers(t *testing.T) {
	type member struct{ name, value string }
	var got []member
	err := jsonscan.Members([]byte(` { "a" : 1 , "b\u0063":{"x":[1,"]"]}, "s":"}\"" ,"n":null}`), 0, func(name string, value []byte) error {
		got = append(got, member{name, string(value)})
		return nil
	})
	want := []member{{"a", "1"}, {"bc", `{"x":[1,"]"]}`}, {"s", `"}\""`}, {"n", "null"}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("Members = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var many strings.Builder
	many.WriteString(`{"m0":0`)
	for i := 1; i < 40; i++ {
		many.WriteString(`,"m` + strings.Repeat("x", i) + `":0`)
	}
	for text, dup := range map[string]string{
		`{"a":1,"a":2}`:                     "a",
		`{"userId":"a","USERID":"b"}`:       "USERID",
		`{"exp":1,"\u0065xp":2}`:            "exp",
		`{"kid":1,"\u212aid":2}`:            "\u212aid",  // the Kelvin sign folds to k
		`{"user":1,"u\u017fer":2}`:          "u\u017fer", // the long s folds to s
		many.String() + `,"MXXX":1}`:        "MXXX",
		`{"a":{"b":1,"b":2},"c":[{"d":1}]}`: "",
		"{\"\xff\":1,\"\xfe\":2}":           "\ufffd", // both U+FFFD to encoding/json
	} {
		err := jsonscan.Members([]byte(text), 0, nil)
		var de *jsonscan.DuplicateError
		switch {
		case dup == "" && err != nil:
			t.Errorf("%.30q: %v (nested duplicates are the application's)", text, err)
		case dup != "" && (!errors.As(err, &de) || de.Name != dup):
			t.Errorf("%.30q: %v, want a duplicate %q", text, err, dup)
		}
	}
	for _, text := range []string{``, `[]`, `1`, `{`, `{"a":1}{}`, `{"a":1,}`, "{\"a\":\"\xff\"}x"} {
		if err := jsonscan.Members([]byte(text), 0, nil); err != jsonscan.ErrNotObject {
			t.Errorf("%q: %v, want ErrNotObject", text, err)
		}
	}
	if err := jsonscan.Members([]byte(`{"a":1,"b":2,"c":3}`), 2, nil); err != jsonscan.ErrNotObject {
		t.Errorf("three members past a limit of two: %v", err)
	}
}

func TestElements(t *testing.T) {
	var got []string
	err := jsonscan.Elements([]byte(` [ "a" , 1,{"x":[2]} ,[],null,"]\"" ] `), func(e []byte) error {
		got = append(got, string(e))
		return nil
	})
	want := []string{`"a"`, `1`, `{"x":[2]}`, `[]`, `null`, `"]\""`}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Elements = %q, %v; want %q", got, err, want)
	}
	for _, text := range []string{`[]`, ` [ ] `} {
		if err := jsonscan.Elements([]byte(text), func([]byte) error { t.Fatalf("%q: an element", text); return nil }); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	for _, text := range []string{``, `{}`, `"[1]"`, `1`, `null`} {
		if err := jsonscan.Elements([]byte(text), func([]byte) error { return nil }); err != jsonscan.ErrNotArray {
			t.Errorf("%q: %v, want ErrNotArray", text, err)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := jsonscan.Elements([]byte(`[1,2,3]`), func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("fn's error: %v after %d elements", err, n)
	}
}

// String unescapes as encoding/json does, with or without its decoder.
func TestString(t *testing.T) {
	for _, text := range []string{`""`, `"plain"`, `"\u00e9\n\"\\"`, `"\ud800"`, "\"caf\xc3\xa9\"", "\"\xff\xfe\"", `"\u212aid"`} {
		var want string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got, err := jsonscan.String([]byte(text)); err != nil || got != want {
			t.Errorf("String(%q) = %q, %v; want %q", text, got, err, want)
		}
	}
	for _, text := range []string{``, `"`, `1`, `null`, `["a"]`} {
		if _, err := jsonscan.String([]byte(text)); err != jsonscan.ErrNotString {
			t.Errorf("String(%q): %v, want ErrNotString", text, err)
		}
	}
}

// Fold holds two names equal exactly when strings.EqualFold does.
func TestFold(t *testing.T) {
	names := []string{"exp", "EXP", "Exp", "\u0065xp", "kid", "KID", "\u212aid", "sub", "\u017fub", "SUB", "userId", "USERID", "user", "us", "é", "É", "ß", "ẞ", "ss"}
	for _, a := range names {
		for _, b := range names {
			if (jsonscan.Fold(a) == jsonscan.Fold(b)) != strings.EqualFold(a, b) {
				t.Errorf("Fold(%q) = %q, Fold(%q) = %q; EqualFold says %v", a, jsonscan.Fold(a), b, jsonscan.Fold(b), strings.EqualFold(a, b))
			}
		}
	}
}
