package herald

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an application error. Each code maps to one HTTP status
// and one WebSocket close code in the table below, so every transport answers the
// same failure the same way.
type ErrorCode string

// The application error codes.
const (
	ECREDENTIALS   ErrorCode = "missing_credentials" // no token where one is required
	ETOKEN         ErrorCode = "invalid_token"       // token malformed, forged or expired
	EMISMATCH      ErrorCode = "user_mismatch"       // token names another user than the request
	EFORBIDDEN     ErrorCode = "forbidden"           // authenticated, but not allowed
	EINVALID       ErrorCode = "invalid"             // malformed request or message
	ENOTFOUND      ErrorCode = "not_found"           // no such resource for this caller
	ECONFLICT      ErrorCode = "conflict"            // state does not allow the change
	EUNPROCESSABLE ErrorCode = "unprocessable"       // well-formed but semantically refused
	ETOOLARGE      ErrorCode = "too_large"           // body, frame or field over its limit
	EUNSUPPORTED   ErrorCode = "unsupported"         // e.g. a binary frame
	ERATELIMIT     ErrorCode = "rate_limited"        // too many requests or messages
	EUNAVAILABLE   ErrorCode = "unavailable"         // over capacity or shutting down; retry later
	EINTERNAL      ErrorCode = "internal"            // a bug or a failed dependency
)

// WebSocket close codes Herald uses. 4000-4003 are the design document's; the
// others are RFC 6455's registered codes.
const (
	CloseNormal         = 1000
	CloseGoingAway      = 1001 // server shutting down: reconnect elsewhere
	CloseUnsupported    = 1003 // binary frame on a JSON connection
	CloseInvalidPayload = 1007 // invalid UTF-8 in a text frame
	ClosePolicy         = 1008 // persistent abuse, e.g. a message flood
	CloseTooLarge       = 1009 // inbound message over the size limit
	CloseInternal       = 1011
	CloseTryAgainLater  = 1013 // over a connection limit, or too slow to keep up
	CloseServerError    = 4000 // "Internal server error"
	CloseMissingAuth    = 4001 // "Missing authentication credentials"
	CloseInvalidToken   = 4002 // "Invalid or expired token"
	CloseUserMismatch   = 4003 // "User ID mismatch"
	CloseForbidden      = 4004 // authenticated but not allowed (e.g. account disabled)
)

// errorTable is the one place that maps codes to transports.
var errorTable = map[ErrorCode]struct {
	status int
	close  int
	reason string // close reason sent with the close frame
}{
	ECREDENTIALS:   {401, CloseMissingAuth, "Missing authentication credentials"},
	ETOKEN:         {401, CloseInvalidToken, "Invalid or expired token"},
	EMISMATCH:      {403, CloseUserMismatch, "User ID mismatch"},
	EFORBIDDEN:     {403, CloseForbidden, "Forbidden"},
	EINVALID:       {400, ClosePolicy, "Invalid message"},
	ENOTFOUND:      {404, ClosePolicy, "Not found"},
	ECONFLICT:      {409, ClosePolicy, "Conflict"},
	EUNPROCESSABLE: {422, ClosePolicy, "Unprocessable"},
	ETOOLARGE:      {413, CloseTooLarge, "Message too large"},
	EUNSUPPORTED:   {415, CloseUnsupported, "Binary messages are not supported"},
	ERATELIMIT:     {429, ClosePolicy, "Rate limit exceeded"},
	EUNAVAILABLE:   {503, CloseTryAgainLater, "Try again later"},
	EINTERNAL:      {500, CloseServerError, "Internal server error"},
}

// Error is Herald's application error: a code for programs and a message that
// is safe to show to the caller. It never carries secrets or tokens.
type Error struct {
	Code    ErrorCode
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("herald: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted safe message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, or EINTERNAL when err is not an *Error.
// It returns "" for a nil error.
// It allocates nothing: every API request asks it, most often of nil.
func CodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of err; an error that is not an *Error
// is hidden behind a generic text, since it may carry internal detail.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "Internal server error"
}

// HTTPStatus returns the HTTP status that answers errors of code c.
func (c ErrorCode) HTTPStatus() int {
	if row, ok := errorTable[c]; ok {
		return row.status
	}
	return 500
}

// CloseCode returns the WebSocket close code and reason that end a
// connection failing with code c.
func (c ErrorCode) CloseCode() (int, string) {
	if row, ok := errorTable[c]; ok {
		return row.close, row.reason
	}
	return CloseServerError, "Internal server error"
}
