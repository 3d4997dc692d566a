package session

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// nopTransport takes everything and carries nothing.
type nopTransport struct{}

func (nopTransport) Send(Outbound) bool { return true }
func (nopTransport) Close(int, string)  {}
func (nopTransport) RemoteAddr() string { return "test" }

// TestContextEndsWithTheSession: a session's context, made on first use,
// is one context for the session's life, ends when the session ends or the
// engine stops, and is already done when first asked for after the end.
func TestContextEndsWithTheSession(t *testing.T) {
	e := NewEngine(Config{})
	claims := &herald.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}
	done := func(ctx context.Context) bool {
		select {
		case <-ctx.Done():
			return true
		case <-time.After(time.Second):
			return false
		}
	}

	s := e.New(nopTransport{}, claims)
	ctx := s.Context()
	if ctx.Err() != nil || s.Context() != ctx {
		t.Fatalf("a live session's context: err %v, the same each time %v", ctx.Err(), s.Context() == ctx)
	}
	s.End()
	if !done(ctx) {
		t.Error("the context outlived the session")
	}

	late := e.New(nopTransport{}, claims)
	late.End()
	if !done(late.Context()) {
		t.Error("a context first asked for after the end is not done")
	}

	s = e.New(nopTransport{}, claims)
	closing := s.Context()
	s.Closing()
	if !done(closing) {
		t.Error("the context outlived Closing")
	}

	s = e.New(nopTransport{}, claims)
	ctx = s.Context()
	e.Stop()
	if !done(ctx) || !done(e.New(nopTransport{}, claims).Context()) {
		t.Error("a session's context outlived the engine")
	}
}
