package events

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// templateView returns v as templates see it: numbers become number and
// nulls null, recursively, so both print as JavaScript would. Maps and slices
// are copied; the event's data is not modified.
func templateView(v any) any {
	switch v := v.(type) {
	case nil:
		return (*null)(nil)
	case float64:
		return number(v)
	case float32:
		return number(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil { // out of float64's range: print it as written
			return string(v)
		}
		return number(f)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = templateView(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = templateView(e)
		}
		return s
	}
	return v
}

// number is a JSON number in a template. It prints as JavaScript's
// Number.prototype.toString does (150, 99.5, 1e+21, 1e-7), and being a
// float64 underneath it still compares in {{if lt .amount 100.0}}.
type number float64

// String formats n as JavaScript does: decimal notation for magnitudes in
// [1e-6, 1e21), exponent notation with the shortest exponent otherwise.
func (n number) String() string {
	f := float64(n)
	if f == 0 {
		return "0" // JavaScript prints -0 as 0 too
	}
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1e-07, 1.5e+21
	mant, exp, _ := strings.Cut(s, "e")
	sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
	return mant + "e" + sign + digits
}

// null is JSON's null in a template. Templates see it as a nil *null, which
// is false in {{if}} and prints "null" as JavaScript does.
type null struct{}

// String returns "null"; it is called on a nil receiver.
func (*null) String() string { return "null" }

// errTooLarge is returned by limitWriter once its limit is passed.
var errTooLarge = errors.New("output too large")

// limitWriter collects a template's output up to max bytes, so a template
// cannot grow a field without bound.
type limitWriter struct {
	b   strings.Builder
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errTooLarge
	}
	return w.b.Write(p)
}
