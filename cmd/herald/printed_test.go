package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shell runs line in sh with PATH leading to the herald binary, as a
// newcomer's terminal after `go install ./cmd/herald` would, and returns
// its stdout, failing on a non-zero exit.
func shell(t *testing.T, ctx context.Context, line string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = []string{"PATH=" + filepath.Dir(heraldBin) + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\nstdout %s\nstderr %s", line, err, out, stderr)
	}
	return string(out)
}

// readmeCommands returns the lines of README.md's sh blocks that start with
// prefix.
func readmeCommands(t *testing.T, prefix string) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	inSh := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```"):
			inSh = !inSh && strings.TrimPrefix(l, "```") == "sh"
		case inSh && strings.HasPrefix(l, prefix):
			out = append(out, l)
		}
	}
	return out
}

// TestPrintedCommandsWork starts the real binary as a newcomer does, with
// no settings, and runs what it prints and what the README shows, as
// pasted into sh: the export line, the curl lines (with their
// Content-Type), the wscat URLs and the CLI commands all reach the same
// server and the same user.
func TestPrintedCommandsWork(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the printed lines cannot be run as pasted")
	}
	port := strconv.Itoa(freePort(t))
	p, err := launch(t, port, map[string]string{"HERALD_DB_PATH": filepath.Join(t.TempDir(), "dev.db")}, "herald")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.waitHealthy(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the development help", func() bool { return strings.Contains(p.stdout.String(), "herald send") })
	printed := p.stdout.String()
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(printed)
		if m == nil {
			t.Fatalf("no %s in:\n%s", re, printed)
		}
		return m[1]
	}
	export := find(`(?m)^\s*(export .*)$`)
	for _, name := range []string{"HERALD_URL=", "JWT_SECRET=", "HERALD_API_KEY=", "API_KEY=", "TOKEN="} {
		if !strings.Contains(export, name) {
			t.Errorf("the export line does not set %s: %s", name, export)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newServer(t, "127.0.0.1:"+port, "", "")
	wscat := regexp.MustCompile(`wscat -c "([^"]+)"`)

	// The printed wscat line connects as demo.
	demo := dial(t, wscat.FindStringSubmatch(printed)[1])
	demo.expect("connected")
	arrived := func(what string) {
		t.Helper()
		m := demo.expect("notification:new")
		if n, _ := m["notification"].(map[string]any); n["userId"] != "demo" {
			t.Errorf("%s: got %v", what, m)
		}
		demo.expect("notification:unread_count")
	}

	// The printed curl line, as pasted.
	curl := find(`(?m)^\s*Send: (curl .*)$`)
	if out := shell(t, ctx, curl+" --fail-with-body -sS"); !strings.Contains(out, `"seq"`) {
		t.Errorf("printed curl answered %s", out)
	}
	arrived("printed curl")

	// The README's lines, after the export line, against this server.
	local := func(l string) string { return strings.ReplaceAll(l, "localhost:3007", "localhost:"+port) }
	readmeCurls := readmeCommands(t, "curl ")
	if len(readmeCurls) == 0 {
		t.Fatal("no curl line in README.md")
	}
	for _, l := range readmeCurls {
		if out := shell(t, ctx, export+"; "+local(l)+" --fail-with-body -sS"); !strings.Contains(out, `"seq"`) {
			t.Errorf("README %s answered %s", l, out)
		}
		arrived("README curl")
	}
	for _, l := range readmeCommands(t, "npx wscat -c ") {
		u := shell(t, ctx, export+`; printf %s `+wscat.FindStringSubmatch(local(l))[0][len("wscat -c "):])
		c := dial(t, u)
		if m := c.expect("connected"); m["userId"] != "demo" {
			t.Errorf("README wscat connected as %v", m["userId"])
		}
		c.close()
	}

	// The CLI with nothing but the export line: token, send, tail.
	tok := strings.TrimSpace(shell(t, ctx, export+"; herald token --user demo"))
	c := dial(t, s.wsURL("demo", tok))
	c.expect("connected")
	c.close()
	if out := shell(t, ctx, export+"; herald send --user demo --title 'From the CLI'"); !strings.Contains(out, `"From the CLI"`) {
		t.Errorf("herald send printed %s", out)
	}
	arrived("herald send")
	out := filepath.Join(t.TempDir(), "tail.out")
	tailOut := shell(t, ctx, export+"; herald tail --user demo --since 0 >"+out+" & pid=$!; "+
		"until grep -q '\"resumed\"' "+out+"; do sleep 0.1; done; kill -INT $pid; wait $pid; cat "+out)
	if strings.Count(tailOut, `"type":"notification:new"`) < 3 || !strings.Contains(tailOut, `"type":"resumed"`) {
		t.Errorf("herald tail --since 0 printed %s", tailOut)
	}
}
