package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/client"
)

// cliMessage words err for a person at a terminal. The Error methods of
// herald.Error and client.Error prefix "herald:" and "herald client:" and
// the SDK's error type for logs; main prefixes "herald:" once, so here each
// such error, wherever it sits in the chain, is replaced by what it means.
func cliMessage(err error) string {
	msg := err.Error()
	var ce *client.Error
	if errors.As(err, &ce) {
		msg = strings.Replace(msg, ce.Error(), clientMessage(ce), 1)
	}
	var he *herald.Error
	if errors.As(err, &he) {
		msg = strings.Replace(msg, he.Error(), he.Message, 1)
	}
	return msg
}

// clientMessage says what a Go SDK error means for the CLI's user.
func clientMessage(e *client.Error) string {
	switch e.CloseCode {
	case herald.CloseMissingAuth:
		return "the server wants a token (close 4001)"
	case herald.CloseInvalidToken:
		return "the server refused the token: signed with another JWT_SECRET, expired or revoked (close 4002)"
	case herald.CloseUserMismatch:
		return "the token is for another user than --user (close 4003)"
	case herald.CloseForbidden:
		return "the server does not let this user connect: " + orDefault(e.Message, "forbidden") + " (close 4004)"
	}
	switch {
	case e.Code == string(herald.EMISMATCH):
		return "the token is for another user than --user"
	case e.Type == client.ErrAuthentication && e.Status != 0:
		return fmt.Sprintf("the server refused the credentials: %s (HTTP %d)", orDefault(e.Message, "unauthorized"), e.Status)
	case e.Type == client.ErrNetwork && e.Err != nil:
		return "cannot reach the server: " + e.Err.Error()
	case e.Status != 0:
		return fmt.Sprintf("%s (HTTP %d)", orDefault(e.Message, "the request failed"), e.Status)
	}
	return orDefault(e.Message, string(e.Type))
}

// endsTail reports whether e means that retrying cannot help: the server
// refused the credentials or the user (4001 to 4004), which a token signed
// again the same way would not change. docs/protocol.md says not to retry
// them.
func endsTail(e *client.Error) bool {
	return e.Type == client.ErrAuthentication || slices.Contains([]int{herald.CloseMissingAuth,
		herald.CloseInvalidToken, herald.CloseUserMismatch, herald.CloseForbidden}, e.CloseCode)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
