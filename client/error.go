package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorType says what kind of failure an Error is, and so what the client
// does about it. The first two are the design document's.
type ErrorType string

// The error types.
const (
	// ErrAuthentication: the server refused the token (close 4001, 4002 or
	// 4003, or HTTP 401). The client invalidates the token, gets a fresh one
	// from its TokenSource and retries at once.
	ErrAuthentication ErrorType = "authentication_failed"
	// ErrNetwork: the connection could not be made or was lost. The client
	// retries with backoff.
	ErrNetwork ErrorType = "network_error"
	// ErrServer: the server refused a message or a request, e.g. a subscribe
	// to a forbidden channel or a REST call with an invalid body. The
	// connection, if any, stays open.
	ErrServer ErrorType = "server_error"
	// ErrClosed: the client was disconnected by Disconnect, or gave up
	// after MaxAttempts.
	ErrClosed ErrorType = "closed"
)

// Error is every error the client reports, to OnError and from its methods.
// It never carries a token.
type Error struct {
	Type ErrorType
	// Code is the server's error code (docs/protocol.md), such as
	// "invalid_token" or "forbidden", when the server gave one.
	Code string
	// CloseCode is the WebSocket close code, when the connection was closed
	// with one.
	CloseCode int
	// Status is the HTTP status of a failed request or handshake.
	Status int
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Message is a human-readable description, safe to log.
	Message string
	// Err is the underlying cause, if any.
	Err error

	// early: a WebSocket attempt that reached the server's address but
	// ended before its greeting without a close code (Transport fallback).
	early bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "herald client: %s", e.Type)
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.CloseCode != 0 {
		fmt.Fprintf(&b, " [close %d]", e.CloseCode)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " [HTTP %d]", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsAuthentication reports whether err is an authentication failure.
func IsAuthentication(err error) bool { return typeOf(err) == ErrAuthentication }

// IsNetwork reports whether err is a network failure, worth a retry.
func IsNetwork(err error) bool { return typeOf(err) == ErrNetwork }

func typeOf(err error) ErrorType {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

// redacted is an error whose text had a secret removed; the original error
// is dropped, since its text (a URL with a query-string token) is the leak.
type redacted string

func (r redacted) Error() string { return string(r) }

// scrub returns err with every occurrence of secret replaced, so that an
// error from a dial with a query-string token can be logged.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return redacted(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
}
