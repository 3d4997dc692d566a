package events

import (
	"encoding/json"
	"math"
	"testing"
)

// TestNumberPrintsAsJavaScript checks number against what JavaScript's
// String(x) gives for the same values.
func TestNumberPrintsAsJavaScript(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{150, "150"},
		{99.5, "99.5"},
		{-2.25, "-2.25"},
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{0.30000000000000004, "0.30000000000000004"}, // 0.1 + 0.2 at run time
		{1e20, "100000000000000000000"},
		{123456789012345680000, "123456789012345680000"},
		{1e21, "1e+21"},
		{1.5e300, "1.5e+300"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{-1.5e-10, "-1.5e-10"},
		{9007199254740993, "9007199254740992"},
	} {
		if got := number(c.f).String(); got != c.want {
			t.Errorf("number(%g) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestTemplateViewConvertsJSONNumbersAndNulls(t *testing.T) {
	view := templateView(map[string]any{
		"a": json.Number("150.0"),
		"b": []any{float64(2), nil},
		"c": map[string]any{"d": json.Number("1e400")},
		"e": "text",
	}).(map[string]any)
	if got := view["a"].(number).String(); got != "150" {
		t.Errorf("json.Number 150.0 prints %q", got)
	}
	if got := view["b"].([]any)[0].(number).String(); got != "2" {
		t.Errorf("nested float prints %q", got)
	}
	if n, ok := view["b"].([]any)[1].(*null); !ok || n != nil || n.String() != "null" {
		t.Errorf("null became %#v", view["b"].([]any)[1])
	}
	if got := view["c"].(map[string]any)["d"]; got != "1e400" {
		t.Errorf("out of range number became %#v, want it as written", got)
	}
	if view["e"] != "text" {
		t.Errorf("string became %#v", view["e"])
	}
}
