//go:build !unix

package sqlite

// freeBytes is unknown here: Writable relies on refused writes alone.
func freeBytes(string) (uint64, bool) { return 0, false }
