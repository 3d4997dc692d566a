package herald

import "strings"

// MaxChannelLen caps channel names, in bytes.
const MaxChannelLen = 128

// ParseChannel validates a channel name and returns its canonical form. A name
// is 1 to MaxChannelLen characters of A-Z a-z 0-9 _ - : . @ /; its namespace,
// the part before the first ':', is case-insensitive and canonically lower
// case, so that "USER:bob" is the same channel as "user:bob" and is checked by
// the same rule. Both the WebSocket subscribe and the server API's channel
// sends use it, so that what one names the other finds.
func ParseChannel(name string) (string, error) {
	ok := name != "" && len(name) <= MaxChannelLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-:.@/", c) >= 0
	}
	if !ok {
		return "", Errorf(EINVALID, "Invalid channel name")
	}
	if ns, rest, found := strings.Cut(name, ":"); found && ns != strings.ToLower(ns) {
		name = strings.ToLower(ns) + ":" + rest
	}
	return name, nil
}
