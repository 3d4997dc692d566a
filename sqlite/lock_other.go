//go:build !unix

package sqlite

import "os"

// lockWriter cannot tell here whether another server writes the database,
// so the store keeps no unread counts in memory.
func lockWriter(string) (*os.File, bool) { return nil, false }
