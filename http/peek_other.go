//go:build !unix

package http

import (
	"errors"
	"net"
)

// errNoPeek says peek cannot look at a connection's bytes.
var errNoPeek = errors.New("http: cannot peek at this connection")

// peek cannot look at a connection's bytes without consuming them here, so
// every connection goes to net/http.
func peek(net.Conn, []byte) ([]byte, error) { return nil, errNoPeek }
