package herald_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestNotificationValidate(t *testing.T) {
	ok := func() *herald.NewNotification {
		return &herald.NewNotification{UserID: "u", Type: "t", Title: "T", Message: "m", Data: json.RawMessage(`{"a":1}`)}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(n *herald.NewNotification){
		"no user":      func(n *herald.NewNotification) { n.UserID = "" },
		"long user":    func(n *herald.NewNotification) { n.UserID = strings.Repeat("u", 129) },
		"no type":      func(n *herald.NewNotification) { n.Type = "" },
		"no title":     func(n *herald.NewNotification) { n.Title = "" },
		"long message": func(n *herald.NewNotification) { n.Message = strings.Repeat("m", herald.MaxMessageLen+1) },
		"data array":   func(n *herald.NewNotification) { n.Data = json.RawMessage(`[1]`) },
		"data null":    func(n *herald.NewNotification) { n.Data = json.RawMessage(`null`) },
		"data too large": func(n *herald.NewNotification) {
			n.Data = json.RawMessage(`{"a":"` + strings.Repeat("x", herald.MaxDataLen) + `"}`)
		},
		"nul in title": func(n *herald.NewNotification) { n.Title = "a\x00b" },
		"bad utf8":     func(n *herald.NewNotification) { n.Message = "\xff" },
		"id not uuid":  func(n *herald.NewNotification) { n.ID = "n1" },
	}
	for name, mutate := range cases {
		n := ok()
		mutate(n)
		if err := n.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if c := herald.CodeOf(err); c != herald.EINVALID && c != herald.ETOOLARGE {
			t.Errorf("%s: code %s", name, c)
		}
	}
}

func TestErrorTable(t *testing.T) {
	for code, want := range map[herald.ErrorCode][2]int{
		herald.ECREDENTIALS: {401, 4001}, herald.ETOKEN: {401, 4002}, herald.EMISMATCH: {403, 4003},
		herald.EINTERNAL: {500, 4000}, herald.ETOOLARGE: {413, 1009}, herald.EUNAVAILABLE: {503, 1013},
		herald.ENOTFOUND: {404, 1008}, herald.EUNPROCESSABLE: {422, 1008}, herald.ERATELIMIT: {429, 1008},
	} {
		close, _ := code.CloseCode()
		if code.HTTPStatus() != want[0] || close != want[1] {
			t.Errorf("%s → %d/%d, want %v", code, code.HTTPStatus(), close, want)
		}
	}
	if herald.CodeOf(nil) != "" || herald.CodeOf(errString("x")) != herald.EINTERNAL {
		t.Error("CodeOf")
	}
	if herald.ErrorMessage(errString("secret detail")) != "Internal server error" {
		t.Error("a plain error's message must be hidden")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestUserIDRule: one rule names users everywhere, so a notification can only
// be created for a user id that a token could carry.
func TestUserIDRule(t *testing.T) {
	for _, ok := range []string{"u1", "alice@example.com", "ünïcode", strings.Repeat("x", herald.MaxUserIDLen)} {
		if !herald.ValidUserID(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "tab\there", "new\nline", "\x00", "\xff", strings.Repeat("x", herald.MaxUserIDLen+1)} {
		if herald.ValidUserID(bad) {
			t.Errorf("%q accepted", bad)
		}
		n := &herald.NewNotification{UserID: bad, Type: "t", Title: "T"}
		if err := n.Validate(); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("Validate with userId %q: %v", bad, err)
		}
	}
}
