package delivery

import (
	"encoding/json"
	"io"
	"time"

	"github.com/heraldhq/herald"
)

// policyJSON is one type's policy in a policy file.
type policyJSON struct {
	Channels   map[herald.Channel]bool `json:"channels"`
	Escalation []struct {
		After   string         `json:"after"`
		Channel herald.Channel `json:"channel"`
	} `json:"escalation"`
	Digest bool `json:"digest"`
}

// ParsePolicies reads type policies from JSON: an object from notification
// type (or "*", for every type without its own entry) to
//
//	{"channels": {"email": true, "in_app": true},
//	 "escalation": [{"after": "10m", "channel": "push"}, {"after": "1h", "channel": "email"}],
//	 "digest": false}
//
// Every field is optional. Unknown channels, fields and malformed durations
// are EINVALID errors naming the type.
func ParsePolicies(r io.Reader) (map[string]herald.TypePolicy, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var raw map[string]policyJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "delivery policies: %s", err.Error())
	}
	out := make(map[string]herald.TypePolicy, len(raw))
	for typ, p := range raw {
		if typ == "" || len(typ) > herald.MaxTypeLen {
			return nil, herald.Errorf(herald.EINVALID, "delivery policies: a type must be 1 to %d bytes", herald.MaxTypeLen)
		}
		pol := herald.TypePolicy{Channels: p.Channels, Digest: p.Digest}
		for c := range p.Channels {
			if !c.Valid() {
				return nil, herald.Errorf(herald.EINVALID, "delivery policy %q: unknown channel %q", typ, c)
			}
		}
		for _, e := range p.Escalation {
			d, err := time.ParseDuration(e.After)
			if err != nil || d <= 0 {
				return nil, herald.Errorf(herald.EINVALID, "delivery policy %q: escalation after %q is not a positive duration such as 10m", typ, e.After)
			}
			if !e.Channel.Valid() || e.Channel == herald.ChannelInApp {
				return nil, herald.Errorf(herald.EINVALID, "delivery policy %q: escalation channel %q must be email, sms, push or webhook", typ, e.Channel)
			}
			pol.Escalation = append(pol.Escalation, herald.Escalation{After: d, Channel: e.Channel})
		}
		out[typ] = pol
	}
	return out, nil
}
