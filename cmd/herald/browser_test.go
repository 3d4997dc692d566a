package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium, which scripts/test.sh installs; the
// tests never download a browser.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserDemo runs web/test/e2e.mjs: the demo page in two tabs of a real
// Chromium against the binary in development mode. The script asks for the
// server to be stopped and started again (same port, same database) by
// printing {"cmd":"stop"} or {"cmd":"start"}; this test does it and answers
// "ok". Screenshots are kept in test-artifacts/browser. Without chromium or
// web/node_modules it skips, unless HERALD_TEST_REQUIRE_SERVICES=1.
func TestBrowserDemo(t *testing.T) {
	root, web := browserSetup(t)
	artifacts := filepath.Join(root, "test-artifacts", "browser")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}

	env, p, port := startDemoProc(t)

	res := runBrowserScript(t, web, "e2e.mjs", []string{"--base", "http://" + p.addr, "--api-key", testAPIKey, "--artifacts", artifacts},
		func(cmd string) string {
			switch cmd {
			case "stop":
				p.signal(syscall.SIGTERM)
				if code := p.wait(15 * time.Second); code != 0 {
					return fmt.Sprintf("herald exited %d", code)
				}
			case "start":
				p = startProcOn(t, port, env)
			default:
				return "unknown command " + cmd
			}
			return "ok"
		})
	t.Logf("screenshots in %s", artifacts)
	want := []string{
		"sign in",
		"two tabs share one socket",
		"a notification made through the API is a toast in both tabs",
		"each type has its action",
		"marking read in one tab clears it, and its toast, in the other",
		"toasts do not cover the inbox at phone width",
		"action links lead to the page, not a 404",
		"the test notification button",
		"the indicator turns to disconnected when the server stops",
		"after a restart the indicator turns back and what was missed appears",
		"the other tab takes the socket over when the leading tab closes",
		"no script errors on the page",
	}
	checkNames(t, res, want)
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 8 {
		t.Errorf("%d screenshots in %s, want at least 8", len(shots), artifacts)
	}
}

// startProcOn runs the binary on a given loopback port, as a restart of a
// server that ran there, and waits until it serves.
func startProcOn(t *testing.T, port string, env map[string]string) *proc {
	t.Helper()
	p, err := launch(t, port, env, "restarted herald")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.waitHealthy(); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
	return p
}

// scriptResult is the last line a browser script prints.
type scriptResult struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

// runBrowserScript runs node web/test/<script> with args and the Chromium
// path, answers each {"cmd":…} line it prints with onCmd's answer, and fails
// the test on every failed check or a failed run.
func runBrowserScript(t *testing.T, web, script string, args []string, onCmd func(string) string) scriptResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("test", script)}, append(args, "--chromium", chromiumPath)...)...)
	cmd.Dir = web
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		last = line
		var order struct {
			Cmd string `json:"cmd"`
		}
		if json.Unmarshal([]byte(line), &order) != nil || order.Cmd == "" {
			continue
		}
		if _, err := io.WriteString(stdin, onCmd(order.Cmd)+"\n"); err != nil {
			t.Errorf("answering %s: %v", order.Cmd, err)
		}
	}
	stdin.Close()
	runErr := cmd.Wait()
	t.Logf("%s:\n%s", script, stderr.String())
	var res scriptResult
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("%s printed no result (%v, exit %v): last line %q", script, err, runErr, last)
	}
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	if runErr != nil || !res.OK {
		t.Fatalf("browser test %s failed: %v", script, runErr)
	}
	return res
}

// checkNames fails the test unless res ran exactly the checks named want.
func checkNames(t *testing.T, res scriptResult, want []string) {
	t.Helper()
	var got []string
	for _, c := range res.Checks {
		got = append(got, c.Name)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checks run:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// browserSetup returns the repository's root and web/ directories, skipping
// the test without node, Chromium or web/node_modules unless
// HERALD_TEST_REQUIRE_SERVICES=1.
func browserSetup(t *testing.T) (root, web string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	web = filepath.Join(root, "web")
	_, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(web, "node_modules", "playwright-core", "package.json"))
	}
	if err == nil {
		_, err = os.Stat(chromiumPath)
	}
	if err != nil {
		if os.Getenv("HERALD_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("node, %s and web/node_modules are required (apt-get install chromium; npm ci in web): %v", chromiumPath, err)
		}
		t.Skipf("node, chromium or web/node_modules missing (apt-get install chromium; npm ci in web): %v", err)
	}
	return root, web
}

// startDemoProc starts the binary with the demo sign-in and the test's
// secrets, and returns its settings (for a restart on the same port and
// database), the process and its port.
func startDemoProc(t *testing.T) (map[string]string, *proc, string) {
	t.Helper()
	env := map[string]string{
		"HERALD_DEMO":             "true", // the demo sign-in, with the test's secrets
		"JWT_SECRET":              testSecret,
		"HERALD_API_KEY":          testAPIKey,
		"HERALD_DB_PATH":          filepath.Join(t.TempDir(), "herald.db"),
		"HERALD_SHUTDOWN_TIMEOUT": "2s",
	}
	p := startProc(t, env)
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	return env, p, port
}
