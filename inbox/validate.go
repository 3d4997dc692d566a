package inbox

import "github.com/heraldhq/herald"

// validateUserID checks a user id against the limits Notification.Validate applies.
func validateUserID(userID string) error {
	switch {
	case userID == "":
		return herald.Errorf(herald.EINVALID, "userId is required")
	case len(userID) > herald.MaxUserIDLen:
		return herald.Errorf(herald.EINVALID, "userId is longer than %d bytes", herald.MaxUserIDLen)
	}
	return nil
}

// validateID checks a notification id before it reaches the store.
func validateID(id string) error {
	switch {
	case id == "":
		return herald.Errorf(herald.EINVALID, "notification id is required")
	case len(id) > MaxIDLen:
		return herald.Errorf(herald.EINVALID, "notification id is longer than %d bytes", MaxIDLen)
	}
	return nil
}
