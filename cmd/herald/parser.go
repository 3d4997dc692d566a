package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parser reads resolved setting values as typed ones and collects one error
// per bad setting, each naming it, so that a start refuses every mistake at
// once instead of the first, and a setting never runs on a zero value
// because its text did not parse.
type parser struct {
	raw    map[string]string
	errs   []error
	failed map[string]bool
}

// anyDuration is the floor of dur for a setting that may be negative.
const anyDuration = time.Duration(math.MinInt64)

// str is the setting's text as given.
func (p *parser) str(k string) string { return p.raw[k] }

// fail records that setting k is wrong: the error reads "K " + what.
func (p *parser) fail(k, what string, args ...any) {
	p.failed[k] = true
	p.errs = append(p.errs, fmt.Errorf("%s %s", k, fmt.Sprintf(what, args...)))
}

// errorf records an error that spans settings; its text names them.
func (p *parser) errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

// ok reports whether none of the settings ks failed to parse, so a check
// across them is worth running.
func (p *parser) ok(ks ...string) bool {
	for _, k := range ks {
		if p.failed[k] {
			return false
		}
	}
	return true
}

// int reads an integer from lo to hi.
func (p *parser) int(k string, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(p.raw[k]))
	if err == nil && n >= lo && n <= hi {
		return n
	}
	switch {
	case hi == math.MaxInt && lo == 1:
		p.fail(k, "must be a positive integer, got %q", p.raw[k])
	case hi == math.MaxInt && lo == 0:
		p.fail(k, "must be a non-negative integer, got %q", p.raw[k])
	default:
		p.fail(k, "must be an integer from %d to %d, got %q", lo, hi, p.raw[k])
	}
	return 0
}

// positive reads an integer of 1 or more.
func (p *parser) positive(k string) int { return p.int(k, 1, math.MaxInt) }

// port reads a TCP port; 0 asks for any free one.
func (p *parser) port(k string) int {
	n, err := strconv.Atoi(strings.TrimSpace(p.raw[k]))
	if err != nil || n < 0 || n > 65535 {
		p.fail(k, "must be a port number from 0 (any free port) to 65535, got %q", p.raw[k])
		return 0
	}
	return n
}

// millis reads a positive whole number of milliseconds, the unit the design
// documents give the heartbeat in.
func (p *parser) millis(k string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(p.raw[k]))
	if err != nil || n <= 0 {
		p.fail(k, "must be a positive number of milliseconds such as 30000, got %q", p.raw[k])
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// dur reads a Go duration (5s, 15m, 1h30m) of at least floor: 0 for "0 or
// more", time.Nanosecond for "positive", anyDuration for no bound.
func (p *parser) dur(k string, floor time.Duration) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(p.raw[k]))
	if err == nil && d >= floor {
		return d
	}
	switch floor {
	case anyDuration:
		p.fail(k, "must be a duration such as 5s or -1s, got %q", p.raw[k])
	case 0:
		p.fail(k, "must be a duration such as 5s (0 or more), got %q", p.raw[k])
	default:
		p.fail(k, "must be a positive duration such as 15m, got %q", p.raw[k])
	}
	return 0
}

// rate reads a positive number.
func (p *parser) rate(k string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(p.raw[k]), 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		p.fail(k, "must be a positive number, got %q", p.raw[k])
		return 0
	}
	return f
}

// bool reads true or false (and the forms strconv.ParseBool knows).
func (p *parser) bool(k string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(p.raw[k]))
	if err != nil {
		p.fail(k, "must be true or false, got %q", p.raw[k])
	}
	return b
}

// oneOf reads one of the words choices.
func (p *parser) oneOf(k string, choices ...string) string {
	v := strings.TrimSpace(p.raw[k])
	if slices.Contains(choices, v) {
		return v
	}
	p.fail(k, "must be %s, got %q", orList(choices), p.raw[k])
	return choices[0]
}

// list reads a comma-separated list, dropping empty items.
func (p *parser) list(k string) []string {
	var out []string
	for _, s := range strings.Split(p.raw[k], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// orList words choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) == 1 {
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
