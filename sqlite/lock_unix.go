//go:build unix

package sqlite

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockWriter takes the lock that says this store is the one server writing
// the database at path: an exclusive flock(2) on a file beside it, held
// until the returned file is closed (or the process ends). ok is false when
// another store holds it, or it cannot be taken. SQLite's own locks are
// fcntl(2) locks on the database and are not touched.
func lockWriter(path string) (f *os.File, ok bool) {
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}
