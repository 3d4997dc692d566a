package client_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/internal/redistest"
)

var (
	binDir   string
	buildBin sync.Once
	binPath  string
	binErr   error
)

// heraldBin returns the herald binary the tests run as a real server,
// building it on first use (with the race detector when the tests have it),
// so that the tests which need no server run without it.
func heraldBin(t *testing.T) string {
	t.Helper()
	buildBin.Do(func() {
		binPath = filepath.Join(binDir, "herald")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/heraldhq/herald/cmd/herald")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("building herald: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "herald-client-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	redistest.Stop()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(binDir)
	os.Exit(code)
}
