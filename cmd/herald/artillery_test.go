package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The smoke environment of loadtest/websocket-load-test.yml: 15 virtual
// users, each subscribing once and pinging three times.
const (
	smokeUsers = 15
	smokePings = 3
)

// TestArtilleryScenario runs the load-test scenario once, in its smoke
// environment, against the binary, and reads both sides: Artillery's JSON
// report must show every virtual user completed with each answer checked and
// no error, and the server's metrics must show the same traffic arrived.
// Without node or loadtest/node_modules it skips, unless
// HERALD_TEST_REQUIRE_SERVICES=1 makes that a failure.
func TestArtilleryScenario(t *testing.T) {
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	report := filepath.Join(t.TempDir(), "report.json")
	out, err := runArtillery(t, p.addr, testSecret, report)
	if err != nil {
		t.Fatalf("artillery: %v\n%s", err, out)
	}

	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report: %v\n%s", err, out)
	}
	var rep struct {
		Aggregate struct {
			Counters  map[string]float64 `json:"counters"`
			Summaries map[string]struct {
				Count float64 `json:"count"`
				P99   float64 `json:"p99"`
			} `json:"summaries"`
		} `json:"aggregate"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	c := rep.Aggregate.Counters
	for k, v := range c {
		if strings.HasPrefix(k, "errors.") {
			t.Errorf("the report counts an error: %s = %v", k, v)
		}
	}
	want := map[string]float64{
		"vusers.created":          smokeUsers,
		"vusers.completed":        smokeUsers,
		"vusers.failed":           0,
		"herald.subscribed":       smokeUsers,
		"herald.pong":             smokeUsers * smokePings,
		"websocket.messages_sent": smokeUsers * (1 + smokePings),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("report counter %s = %v, want %v", k, c[k], v)
		}
	}
	if got := rep.Aggregate.Summaries["herald.pong_ms"].Count; got != smokeUsers*smokePings {
		t.Errorf("pong round trips summarised: %v, want %d", got, smokeUsers*smokePings)
	}
	if t.Failed() {
		t.Logf("artillery output:\n%s", out)
	}

	// The server saw the same traffic, and every socket ended with 1000.
	want = map[string]float64{
		"herald_ws_connects_total":                      smokeUsers,
		`herald_ws_messages_in_total{type="subscribe"}`: smokeUsers,
		`herald_ws_messages_in_total{type="ping"}`:      smokeUsers * smokePings,
		`herald_ws_disconnects_total{code="1000"}`:      smokeUsers,
	}
	var m map[string]float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := s.do("GET", "/metrics", s.apiKey, nil)
		m = parseMetrics(t, string(body))
		if (m[`herald_ws_disconnects_total{code="1000"}`] >= smokeUsers && m["herald_connections"] == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("server metric %s = %v, want %v", k, m[k], v)
		}
	}
	if m["herald_connections"] != 0 {
		t.Errorf("herald_connections = %v after the run, want 0", m["herald_connections"])
	}
}

// runArtillery runs the scenario's smoke environment against addr with
// secret as JWT_SECRET, writing the JSON report to report, and returns its
// output and how it exited. Without node or loadtest/node_modules it skips,
// unless HERALD_TEST_REQUIRE_SERVICES=1 makes that a failure.
func runArtillery(t *testing.T, addr, secret, report string) (string, error) {
	t.Helper()
	dir, err := filepath.Abs("../../loadtest")
	if err != nil {
		t.Fatal(err)
	}
	artillery := filepath.Join(dir, "node_modules", ".bin", "artillery")
	_, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(artillery)
	}
	if err != nil {
		if os.Getenv("HERALD_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("node and loadtest/node_modules are required (run npm ci in loadtest): %v", err)
		}
		t.Skipf("node or loadtest/node_modules missing (npm ci in loadtest): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, artillery, "run", "--environment", "smoke", "--target", "ws://"+addr,
		"--output", report, "websocket-load-test.yml")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "JWT_SECRET=" + secret,
		"ARTILLERY_DISABLE_TELEMETRY=true", "NO_COLOR=1"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("artillery did not finish within 60s:\n%s", out.String())
	}
	return out.String(), err
}

// TestArtilleryFailsWhenEveryUserFails runs the scenario with a JWT_SECRET
// the server does not have: every virtual user is refused (4002), and the
// run must exit 1, not pass for a load test that worked.
func TestArtilleryFailsWhenEveryUserFails(t *testing.T) {
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	report := filepath.Join(t.TempDir(), "report.json")
	out, err := runArtillery(t, p.addr, strings.Repeat("w", 40), report)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("artillery with every user refused: %v, want exit code 1\n%s", err, out)
	}
	data, _ := os.ReadFile(report)
	var rep struct {
		Aggregate struct {
			Counters map[string]float64 `json:"counters"`
		} `json:"aggregate"`
	}
	if json.Unmarshal(data, &rep) == nil && rep.Aggregate.Counters["vusers.completed"] != 0 {
		t.Errorf("users completed with a wrong secret: %v", rep.Aggregate.Counters)
	}
}
