package inbox

import "github.com/heraldhq/herald"

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
