package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

// TestUnsent checks which publish errors are sent again to the shard the
// broker's slot map names: only a failed dial to another node, which proves
// the command never left; an error after it left may hide a delivery.
func TestUnsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var d net.Dialer
	_, refused := d.DialContext(context.Background(), "tcp", dead)
	if refused == nil {
		t.Fatal("dialing a closed port succeeded")
	}
	for _, c := range []struct {
		name  string
		err   error
		shard string
		want  bool
	}{
		{"refused by the old primary", refused, "127.0.0.1:1", true},
		{"wrapped", fmt.Errorf("spublish: %w", refused), "127.0.0.1:1", true},
		{"refused by the shard itself", refused, dead, false},
		{"connection lost after sending", io.EOF, "127.0.0.1:1", false},
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: errTimeout{}}, "127.0.0.1:1", false},
		{"deadline", context.DeadlineExceeded, "127.0.0.1:1", false},
		{"redis error", errors.New("MOVED 12 127.0.0.1:2"), "127.0.0.1:1", false},
	} {
		if got := unsent(c.err, c.shard); got != c.want {
			t.Errorf("%s: unsent(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
