package herald_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/heraldhq/herald"
)

func TestCodeOfAndErrorMessage(t *testing.T) {
	e := herald.Errorf(herald.ENOTFOUND, "No such notification")
	tests := []struct {
		name string
		err  error
		code herald.ErrorCode
		msg  string
	}{
		{"nil", nil, "", ""},
		{"an *Error", e, herald.ENOTFOUND, "No such notification"},
		{"wrapped", fmt.Errorf("store: %w", e), herald.ENOTFOUND, "No such notification"},
		{"joined", errors.Join(errors.New("first"), e), herald.ENOTFOUND, "No such notification"},
		{"another error, its text hidden", errors.New("dial tcp 10.0.0.5:5432: refused"), herald.EINTERNAL, "Internal server error"},
	}
	for _, tt := range tests {
		if got := herald.CodeOf(tt.err); got != tt.code {
			t.Errorf("%s: CodeOf = %q, want %q", tt.name, got, tt.code)
		}
		if got := herald.ErrorMessage(tt.err); got != tt.msg {
			t.Errorf("%s: ErrorMessage = %q, want %q", tt.name, got, tt.msg)
		}
	}
	// Every API request asks the code of its outcome, most often of nil.
	wrapped := fmt.Errorf("store: %w", e)
	n := testing.AllocsPerRun(100, func() {
		_ = herald.CodeOf(nil)
		_ = herald.CodeOf(e)
		_ = herald.CodeOf(wrapped)
		_ = herald.ErrorMessage(wrapped)
	})
	if n != 0 {
		t.Errorf("CodeOf and ErrorMessage allocated %v times, want none", n)
	}
}
