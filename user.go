package herald

import (
	"unicode"
	"unicode/utf8"
)

// ValidUserID reports whether id can name a user: 1 to MaxUserIDLen bytes of
// printable UTF-8. Tokens, routes, accounts and notifications all apply this
// one rule, so that a user who can be sent a notification can also connect
// to receive it.
func ValidUserID(id string) bool {
	if id == "" || len(id) > MaxUserIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// CheckUserID returns an EINVALID error naming field when id is not a valid
// user id.
func CheckUserID(field, id string) error {
	if !ValidUserID(id) {
		return Errorf(EINVALID, "%s must be 1 to %d bytes of printable text", field, MaxUserIDLen)
	}
	return nil
}
