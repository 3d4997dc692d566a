package ws

import (
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// MaxChannelLen caps channel names, in bytes.
const MaxChannelLen = 128

// validChannel reports whether name fits the channel pattern of
// docs/protocol.md: 1 to 128 of A-Z a-z 0-9 and _ - : . @ /.
func validChannel(name string) bool {
	if len(name) == 0 || len(name) > MaxChannelLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("_-:.@/", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// mayJoin applies channel permissions: plain names are open to any
// authenticated user, as in the design document; "user:<id>" only to that user;
// "private:…" only when the token's channels claim grants it.
func mayJoin(c *herald.Claims, name string) error {
	ns, rest, namespaced := strings.Cut(name, ":")
	if !namespaced {
		return nil
	}
	switch ns {
	case "user":
		if rest == c.UserID {
			return nil
		}
	case "private":
		if slices.Contains(c.Channels, name) {
			return nil
		}
	default:
		return nil
	}
	return herald.Errorf(herald.EFORBIDDEN, "Not allowed to subscribe to this channel")
}
