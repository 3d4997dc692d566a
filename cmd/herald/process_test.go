package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is the herald binary running as a separate process.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	addr           string
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited
	err            error         // Wait's result, once done
}

// startProc runs the binary with only the environment given (and PATH), on
// a free loopback port, and waits until /healthz answers. The process is
// killed when the test ends, if it is still running. A port another program
// took between freePort and the bind is retried on another.
func startProc(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := tryStartProc(t, env, args...)
		if err == nil {
			return p
		}
		if attempt == 3 || !strings.Contains(p.stderr.String(), "address already in use") {
			t.Fatalf("%v\n%s", err, p.stderr.String())
		}
	}
}

func tryStartProc(t *testing.T, env map[string]string, args ...string) (*proc, error) {
	p, err := launch(t, strconv.Itoa(freePort(t)), env, "herald", args...)
	if err != nil {
		return p, err
	}
	return p, p.waitHealthy()
}

// launch starts the binary on a loopback port with env added to a minimal
// environment, and kills it when the test ends, logging its stderr under
// label if the test failed. It does not wait for the server to serve.
func launch(t *testing.T, port string, env map[string]string, label string, args ...string) (*proc, error) {
	p := &proc{t: t, addr: "127.0.0.1:" + port, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(heraldBin, args...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + port, "HERALD_HOST=127.0.0.1"}
	if env["HERALD_DB_PATH"] == "" && env["DATABASE_URL"] == "" {
		// The default, herald.db in the working directory, would be this
		// package's source directory.
		p.cmd.Env = append(p.cmd.Env, "HERALD_DB_PATH="+filepath.Join(t.TempDir(), "herald.db"))
	}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return p, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", label, p.stderr.String())
		}
	})
	return p, nil
}

// waitHealthy waits until the process logs that it listens on its address,
// so a server of someone else on that port cannot be mistaken for it, and
// then until /healthz answers 200. It fails if the process exits first or
// takes more than 15 seconds.
func (p *proc) waitHealthy() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return p.waitServing(client, "http://"+p.addr+"/healthz", `msg="herald listening" addr=`+p.addr)
}

// waitServing waits until the process logs listening and then until url
// answers 200, failing if the process exits first or 15 seconds pass.
func (p *proc) waitServing(client *http.Client, url, listening string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("herald exited before serving: %v", p.err)
		default:
		}
		var err error
		if strings.Contains(p.stderr.String(), listening) {
			var resp *http.Response
			if resp, err = client.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return nil
				}
				err = fmt.Errorf("%s answered %d", url, resp.StatusCode)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("herald did not serve %s within 15s (%v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("herald did not exit within %v", d)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

// kill ends the process at once, if it still runs, and reaps it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func procEnv(db string) map[string]string {
	return map[string]string{
		"HERALD_ENV":              "production",
		"JWT_SECRET":              testSecret,
		"HERALD_API_KEY":          testAPIKey,
		"HERALD_DB_PATH":          db,
		"HERALD_SHUTDOWN_TIMEOUT": "5s",
	}
}

// TestGracefulShutdown sends SIGTERM while two clients are connected and
// messages are queued for one of them: each gets everything queued, then
// 1001, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	alice, _ := s.connect("alice")
	bob, _ := s.connect("bob")

	const queued = 50
	for i := range queued {
		s.api("POST", "/api/users/alice/messages", fmt.Sprintf(`{"type":"queued","n":%d}`, i), 200, nil)
	}
	p.signal(syscall.SIGTERM)

	code, reason, before := alice.closeStatus()
	if code != 1001 || reason != "Server shutting down" {
		t.Errorf("alice: close %d %q, want 1001 Server shutting down", code, reason)
	}
	if len(before) != queued {
		t.Errorf("alice got %d of the %d queued messages before the close", len(before), queued)
	}
	for i, data := range before {
		if want := fmt.Sprintf(`{"type":"queued","n":%d}`, i); string(data) != want {
			t.Errorf("alice message %d = %s, want %s", i, data, want)
			break
		}
	}
	if code, reason, before := bob.closeStatus(); code != 1001 || reason != "Server shutting down" || len(before) != 0 {
		t.Errorf("bob: close %d %q after %d messages, want 1001 Server shutting down", code, reason, len(before))
	}
	if code := p.wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "herald stopped") {
		t.Errorf("the log does not end with the stop:\n%s", p.stderr.String())
	}
}

// TestProductionRefusesWithoutSecrets checks the binary itself: production
// without its secrets exits 1 and says which one is missing.
func TestProductionRefusesWithoutSecrets(t *testing.T) {
	for _, missing := range []string{"JWT_SECRET", "HERALD_API_KEY"} {
		env := procEnv(filepath.Join(t.TempDir(), "never.db"))
		delete(env, missing)
		cmd := exec.Command(heraldBin)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(freePort(t))}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("without %s: err %v, want exit 1; output %s", missing, err, out)
		}
		if !strings.Contains(string(out), missing) {
			t.Errorf("without %s the output does not name it: %s", missing, out)
		}
	}
}

// TestResumeAcrossCrash kills the process right after notifications were
// acknowledged, restarts it on the same database, and checks a client that
// resumes from the last seq it saw gets each missed notification once, in
// order, then resumed, then live ones.
func TestResumeAcrossCrash(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	p1 := startProc(t, procEnv(db))
	s1 := newServer(t, p1.addr, testSecret, testAPIKey)

	// The client sees notifications 1..k, then goes away.
	const k, missed, live = 3, 25, 2
	alice, _ := s1.connect("alice")
	var lastSeen int64
	for i := 1; i <= k; i++ {
		n := s1.notify("alice", fmt.Sprintf("seen %d", i))
		m := alice.expect("notification:new")
		got := m["notification"].(map[string]any)
		if got["id"] != n.ID || got["seq"] != float64(n.Seq) {
			t.Fatalf("notification %d = %v, want %+v", i, got, n)
		}
		alice.expect("notification:unread_count")
		lastSeen = n.Seq
	}
	alice.close()

	// More are created while it is away; the process dies right after the
	// last one was acknowledged.
	var want []notification
	for i := 1; i <= missed; i++ {
		want = append(want, s1.notify("alice", fmt.Sprintf("missed %d", i)))
	}
	p1.signal(syscall.SIGKILL)
	if code := p1.wait(10 * time.Second); code != -1 {
		t.Logf("killed process exit code %d", code)
	}

	p2 := startProc(t, procEnv(db))
	s2 := newServer(t, p2.addr, testSecret, testAPIKey)
	back, hello := s2.connect("alice", "since", strconv.FormatInt(lastSeen, 10))
	if hello["unreadCount"] != float64(k+missed) {
		t.Errorf("unreadCount after the restart = %v, want %d", hello["unreadCount"], k+missed)
	}
	for i, w := range want {
		m := back.read()
		if m["type"] != "notification:new" {
			t.Fatalf("replay message %d = %v, want notification:new", i, m)
		}
		got := m["notification"].(map[string]any)
		if got["id"] != w.ID || got["seq"] != float64(w.Seq) || got["title"] != w.Title || m["replayed"] != true {
			t.Fatalf("replay %d = %v (replayed %v), want id %s seq %d %q", i, got, m["replayed"], w.ID, w.Seq, w.Title)
		}
		if i > 0 && w.Seq <= want[i-1].Seq {
			t.Fatalf("the API answered seqs out of order: %d after %d", w.Seq, want[i-1].Seq)
		}
	}
	last := want[len(want)-1].Seq
	r := back.expect("resumed")
	if r["since"] != float64(lastSeen) || r["lastSeq"] != float64(last) || r["replayed"] != float64(missed) {
		t.Errorf("resumed = %v, want since %d lastSeq %d replayed %d", r, lastSeen, last, missed)
	}

	// Live ones follow, after the last replayed seq, once each.
	for i := 1; i <= live; i++ {
		n := s2.notify("alice", fmt.Sprintf("live %d", i))
		if n.Seq <= last {
			t.Errorf("a seq was reused after the restart: %d <= %d", n.Seq, last)
		}
		m := back.expect("notification:new")
		got := m["notification"].(map[string]any)
		if got["id"] != n.ID || m["replayed"] != nil {
			t.Errorf("live %d = %v, want %s not replayed", i, m, n.ID)
		}
		if c := back.expect("notification:unread_count"); c["count"] != float64(k+missed+i) {
			t.Errorf("unread_count = %v, want %d", c["count"], k+missed+i)
		}
	}
	// Nothing else is pending: a marker comes next.
	s2.api("POST", "/api/users/alice/messages", `{"type":"end"}`, 200, nil)
	if m := back.read(); m["type"] != "end" {
		t.Errorf("after the live notifications got %v, want the end marker", m)
	}
}
