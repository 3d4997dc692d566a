package jwt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/jwt"
)

func TestIssueRoundTrip(t *testing.T) {
	iss := jwt.NewIssuer(jwt.Config{Secret: secret, Now: clock})
	token, err := iss.Issue("user-7", 15*time.Minute, []string{"ops"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	c, err := newVerifier().Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.UserID != "user-7" || len(c.Channels) != 1 || c.Channels[0] != "ops" {
		t.Errorf("claims = %+v", c)
	}
	if !c.IssuedAt.Equal(epoch) || !c.ExpiresAt.Equal(epoch.Add(15*time.Minute)) {
		t.Errorf("iat = %v, exp = %v", c.IssuedAt, c.ExpiresAt)
	}
	if len(c.ID) != 32 {
		t.Errorf("jti = %q, want 32 hex digits", c.ID)
	}

	// The payload carries userId and sub, so verifiers reading either agree.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"userId", "sub", "iat", "exp", "jti"} {
		if _, ok := m[k]; !ok {
			t.Errorf("payload %s lacks %q", payload, k)
		}
	}
	if m["sub"] != "user-7" {
		t.Errorf("sub = %v", m["sub"])
	}

	// Two tokens never share a jti.
	other, _ := iss.Issue("user-7", 15*time.Minute, nil)
	c2, err := newVerifier().Verify(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID == c.ID {
		t.Errorf("jti repeated: %q", c.ID)
	}
}

func TestIssuedTokenExpires(t *testing.T) {
	token, err := jwt.NewIssuer(jwt.Config{Secret: secret, Now: clock}).Issue("user-7", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return epoch.Add(time.Minute + jwt.DefaultLeeway) }
	_, err = jwt.NewVerifier(jwt.Config{Secret: secret, Now: later}).Verify(context.Background(), token)
	if herald.CodeOf(err) != herald.ETOKEN {
		t.Fatalf("err = %v, want ETOKEN once exp plus leeway has passed", err)
	}
}

func TestIssueRefuses(t *testing.T) {
	good := jwt.NewIssuer(jwt.Config{Secret: secret})
	tests := map[string]struct {
		iss  *jwt.Issuer
		user string
		ttl  time.Duration
		code herald.ErrorCode
	}{
		"no secret":    {jwt.NewIssuer(jwt.Config{}), "u", time.Minute, herald.EINTERNAL},
		"empty user":   {good, "", time.Minute, herald.EINVALID},
		"long user":    {good, strings.Repeat("u", herald.MaxUserIDLen+1), time.Minute, herald.EINVALID},
		"control user": {good, "a\x00b", time.Minute, herald.EINVALID},
		"zero ttl":     {good, "u", 0, herald.EINVALID},
		"negative ttl": {good, "u", -time.Second, herald.EINVALID},
	}
	for name, tt := range tests {
		token, err := tt.iss.Issue(tt.user, tt.ttl, nil)
		if herald.CodeOf(err) != tt.code || token != "" {
			t.Errorf("%s: token %q, err %v, want code %q", name, token, err, tt.code)
		}
	}
}
