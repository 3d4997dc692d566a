// Package disktest gives tests a small file system of their own to fill, so
// that what a full disk does to a store can be tested for real.
package disktest

import (
	"os/exec"
	"testing"
)

// Mount mounts a tmpfs of size (mount's syntax: "4m") at a fresh directory
// and returns it; it is unmounted when the test ends, after the cleanups
// registered later (a store on it, say). A test without the right to mount
// (root or CAP_SYS_ADMIN) is skipped.
func Mount(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs to fill (needs root or CAP_SYS_ADMIN): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}
