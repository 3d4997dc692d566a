//go:build unix

package sqlite

import "golang.org/x/sys/unix"

// freeBytes is the space of dir's file system that an unprivileged writer
// may still use.
func freeBytes(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
