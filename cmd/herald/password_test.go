package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controlling side a person's
// terminal would be, and the side a program reads as its terminal.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return control, term
}

// TestUserAddPromptsWithoutEcho types a password at a real (pseudo)
// terminal: `herald user add` asks for it twice on stderr with the
// terminal's echo off, so the screen never shows it, restores the echo, and
// refuses a mistyped second entry.
func TestUserAddPromptsWithoutEcho(t *testing.T) {
	control, term := openPTY(t)
	old := userStdin
	userStdin = term
	t.Cleanup(func() { userStdin = old })
	db := filepath.Join(t.TempDir(), "h.db")
	env := mapEnv(map[string]string{"HERALD_DB_PATH": db})

	// echoOff reports whether the terminal has echo switched off, which
	// the prompt must do before a person types.
	echoOff := func() bool {
		tio, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	}
	// add runs `herald user add name` and types each entry once its prompt
	// shows, as a person would.
	add := func(name string, entries ...string) (string, error) {
		var out, errOut syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(context.Background(), []string{"user", "add", name}, env, &out, &errOut) }()
		for i, entry := range entries {
			prompt := []string{"Password for " + name + ": ", "Again: "}[i]
			waitFor(t, 10*time.Second, "the prompt "+prompt+"with echo off", func() bool {
				return strings.Contains(errOut.String(), prompt) && echoOff()
			})
			if _, err := control.WriteString(entry + "\n"); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-done:
			return errOut.String(), err
		case <-time.After(10 * time.Second):
			t.Fatal("user add did not finish")
			return "", nil
		}
	}
	prompts, err := add("ines", "hunter2-secret", "hunter2-secret")
	if err != nil {
		t.Fatalf("user add at a terminal: %v", err)
	}
	if !strings.Contains(prompts, "Password for ines: ") || !strings.Contains(prompts, "Again: ") {
		t.Errorf("prompts on stderr: %q", prompts)
	}
	// The entries were typed only while the terminal had echo off (add
	// waits for it), and echo is back on once the command is done.
	if echoOff() {
		t.Error("user add left the terminal without echo")
	}
	if _, err := add("jon", "first-password", "second-password"); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("two different entries: %v, want a refusal", err)
	}
}
