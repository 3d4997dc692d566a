package jsonscan_test

import (
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
