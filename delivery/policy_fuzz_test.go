package delivery_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
)

// FuzzParsePolicies feeds arbitrary documents to the policy parser, as a
// hostile or broken HERALD_DELIVERY_POLICY_FILE would: it must return
// policies or an EINVALID error, never panic, and what it accepts must hold
// only valid channels and positive escalation delays.
func FuzzParsePolicies(f *testing.F) {
	for _, seed := range []string{
		`{"payment_due":{"channels":{"email":true},"escalation":[{"after":"10m","channel":"push"}],"digest":false}}`,
		`{"*":{"channels":{"in_app":true,"sms":false}}}`, `{}`, `null`, `[]`, `{"":{}}`,
		`{"t":{"escalation":[{"after":"-1s","channel":"email"}]}}`, `{"t":{"escalation":[{"after":"1h","channel":"in_app"}]}}`,
		`{"t":{"channels":{"pigeon":true}}}`, `{"t":{"extra":1}}`, `{"t":{}}{"u":{}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		pols, err := delivery.ParsePolicies(strings.NewReader(doc))
		if err != nil {
			if herald.CodeOf(err) != herald.EINVALID {
				t.Fatalf("code %q: %v", herald.CodeOf(err), err)
			}
			return
		}
		for typ, p := range pols {
			if typ == "" || len(typ) > herald.MaxTypeLen {
				t.Fatalf("accepted type %q", typ)
			}
			for c := range p.Channels {
				if !c.Valid() {
					t.Fatalf("accepted channel %q", c)
				}
			}
			for _, e := range p.Escalation {
				if e.After <= 0 || !e.Channel.Valid() || e.Channel == herald.ChannelInApp {
					t.Fatalf("accepted escalation %+v", e)
				}
			}
		}
	})
}
