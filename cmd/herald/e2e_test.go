package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWalkthroughWithNodeClient runs e2e/walkthrough.mjs, the design
// document's Testing section driven by the npm ws package, against the
// binary. Without node or the installed e2e packages it skips, unless
// HERALD_TEST_REQUIRE_SERVICES=1 (as scripts/test.sh sets) makes that a failure.
func TestWalkthroughWithNodeClient(t *testing.T) {
	dir, err := filepath.Abs("../../e2e")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json"))
	}
	if err != nil {
		if os.Getenv("HERALD_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("node and e2e/node_modules are required (run npm ci in e2e): %v", err)
		}
		t.Skipf("node or e2e/node_modules missing (npm ci in e2e): %v", err)
	}

	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "walkthrough.mjs"), s.wsURL("walker", token(t, testSecret, "walker")))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name   string `json:"name"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("walkthrough printed no JSON result (%v): stdout %q stderr %q", runErr, stdout.String(), stderr.String())
	}
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	if runErr != nil || !res.OK {
		t.Fatalf("walkthrough failed: %v\n%s", runErr, stdout.String())
	}
	want := []string{"connected", "ping", "subscribe", "bad token closes 4002", "missing token closes 4001"}
	if len(res.Checks) != len(want) {
		t.Fatalf("walkthrough ran %d checks, want %d: %s", len(res.Checks), len(want), stdout.String())
	}
	for i, name := range want {
		if res.Checks[i].Name != name {
			t.Errorf("check %d is %q, want %q", i, res.Checks[i].Name, name)
		}
	}
	// The server saw the walk-through: one accepted connection, two refused.
	status, body := s.do("GET", "/metrics", s.apiKey, nil)
	m := parseMetrics(t, string(body))
	if status != 200 || m["herald_ws_connects_total"] != 1 {
		t.Errorf("herald_ws_connects_total = %v, want 1", m["herald_ws_connects_total"])
	}
}
