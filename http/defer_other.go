//go:build !linux

package http

import "syscall"

// deferAccept does nothing here: TCP_DEFER_ACCEPT is Linux's.
func deferAccept(network, address string, c syscall.RawConn) error { return nil }
