package session

import (
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// ChannelPolicy decides who may join which channel. Its zero value is the
// design document's behaviour: any authenticated user may join a plain or
// namespaced channel, except two namespaces that are always guarded —
// "user:<id>", open only to that user, and "private:…", open only to a token
// whose channels claim grants it.
type ChannelPolicy struct {
	// Strict denies by default: a channel is open only when Public matches it,
	// the token's channels claim grants it, or it is the user's own user:<id>.
	Strict bool
	// Public lists channels open to everyone in strict mode: exact names, or
	// prefixes ending in "*" such as "news:*".
	Public []string
}

// allow reports whether claims may join channel (already canonical).
func (p ChannelPolicy) allow(c *herald.Claims, channel string) error {
	ns, rest, namespaced := strings.Cut(channel, ":")
	switch {
	case namespaced && ns == "user":
		if rest == c.UserID {
			return nil
		}
	case matchAny(c.Channels, channel):
		return nil
	case namespaced && ns == "private":
	case !p.Strict || matchAny(p.Public, channel):
		return nil
	}
	return herald.Errorf(herald.EFORBIDDEN, "Not allowed to subscribe to this channel")
}

// matchAny reports whether a pattern in patterns names channel: an exact name,
// or a prefix ending in "*".
func matchAny(patterns []string, channel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(channel, prefix)
		}
		return p == channel
	})
}
