package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
)

func TestParsePolicies(t *testing.T) {
	got, err := delivery.ParsePolicies(strings.NewReader(`{
		"*": {"channels": {"in_app": true}},
		"payment_due": {"channels": {"email": true}, "escalation": [{"after": "10m", "channel": "push"}, {"after": "1h", "channel": "email"}]},
		"newsletter": {"channels": {"email": true}, "digest": true}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := got["payment_due"]
	if !p.Channels[herald.ChannelEmail] || len(p.Escalation) != 2 || p.Escalation[0] != (herald.Escalation{After: 10 * time.Minute, Channel: herald.ChannelPush}) ||
		p.Escalation[1].After != time.Hour || !got["newsletter"].Digest || !got["*"].Channels[herald.ChannelInApp] {
		t.Fatalf("policies = %+v", got)
	}
	for _, bad := range []string{
		`{"t": {"channels": {"fax": true}}}`,
		`{"t": {"escalation": [{"after": "soon", "channel": "push"}]}}`,
		`{"t": {"escalation": [{"after": "1m", "channel": "in_app"}]}}`,
		`{"t": {"digets": true}}`,
		`[1]`,
	} {
		if _, err := delivery.ParsePolicies(strings.NewReader(bad)); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("ParsePolicies(%s) = %v, want EINVALID", bad, err)
		}
	}
}
