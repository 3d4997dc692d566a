package redistest

import (
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestStopStart: a stopped server refuses connections; restarted, it answers
// on the same address.
func TestStopStart(t *testing.T) {
	s := NewServer(t)
	addr := s.Addr()
	if err := ping(addr); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if err := ping(addr); err == nil {
		t.Fatal("a stopped server answered PING")
	}
	s.Start(t)
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
	}
	if err := ping(addr); err != nil {
		t.Fatal(err)
	}
}

// TestNewGivesEachTestItsOwnPrefix: tests sharing the server do not share
// key names.
func TestNewGivesEachTestItsOwnPrefix(t *testing.T) {
	a, b := New(t), New(t)
	if a.Prefix == b.Prefix || a.Server != b.Server || !strings.HasPrefix(a.URL, "redis://127.0.0.1:") {
		t.Fatalf("got %+v and %+v", a, b)
	}
}
