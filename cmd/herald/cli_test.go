package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSendCommand(t *testing.T) {
	s := startApp(t, nil)
	var out, errOut syncBuffer
	err := run(context.Background(), []string{"send", "--user", "ann", "--title", "Trip Started", "--message", "On its way",
		"--type", "trip_update", "--link", "/trips/1", "--data", `{"tripId":"1"}`, "--url", "http://" + s.addr},
		mapEnv(map[string]string{"HERALD_API_KEY": testAPIKey}), &out, &errOut)
	if err != nil {
		t.Fatalf("send: %v (stderr %s)", err, errOut.String())
	}
	var n notification
	if err := json.Unmarshal([]byte(out.String()), &n); err != nil || n.ID == "" || n.Seq != 1 || n.User != "ann" ||
		n.Type != "trip_update" || n.Title != "Trip Started" || n.Msg != "On its way" || string(n.Data) != `{"tripId":"1"}` {
		t.Fatalf("send printed %q (%v), want the stored notification", out.String(), err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("send printed %q, want one line", out.String())
	}
	// It is in ann's inbox.
	status, body := s.do("GET", "/api/notifications", token(t, s.secret, "ann"), nil)
	if status != 200 || !strings.Contains(string(body), n.ID) {
		t.Errorf("inbox = %d %s, want the sent notification", status, body)
	}

	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no user", []string{"send", "--title", "x"}, map[string]string{"HERALD_API_KEY": testAPIKey}, "--user"},
		{"no key", []string{"send", "--user", "u", "--title", "x"}, nil, "API key"},
		{"bad data", []string{"send", "--user", "u", "--title", "x", "--data", "[1]"}, map[string]string{"HERALD_API_KEY": testAPIKey}, "JSON object"},
		{"wrong key", []string{"send", "--user", "u", "--title", "x", "--url", "ws://" + s.addr + "/ws"}, map[string]string{"HERALD_API_KEY": "nope"}, "the server refused the credentials: Invalid API key (HTTP 401)"},
		{"bad url", []string{"send", "--user", "u", "--title", "x", "--url", "ftp://h"}, map[string]string{"HERALD_API_KEY": testAPIKey}, "server URL"},
	} {
		var o, e syncBuffer
		err := run(context.Background(), c.args, mapEnv(c.env), &o, &e)
		if err == nil || !strings.Contains(cliMessage(err), c.want) {
			t.Errorf("%s: send = %v, want an error about %q", c.name, err, c.want)
		}
		if o.String() != "" {
			t.Errorf("%s: printed %q on failure", c.name, o.String())
		}
	}
}

// tailRun is a running `herald tail`.
type tailRun struct {
	out, errOut syncBuffer
	cancel      context.CancelFunc
	done        chan error
}

func startTail(t *testing.T, env map[string]string, args ...string) *tailRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &tailRun{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, append([]string{"tail"}, args...), mapEnv(env), &r.out, &r.errOut) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop interrupts tail as Ctrl-C does and returns what it returned.
func (r *tailRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop within 10s of the interrupt")
		return nil
	}
}

// lines returns tail's output as JSON objects, failing on a line that is
// not one.
func (r *tailRun) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("tail printed %q, not a JSON object", l)
		}
		out = append(out, m)
	}
	return out
}

func TestTailCommand(t *testing.T) {
	s := startApp(t, nil)
	old := s.notify("bea", "before tail")
	tail := startTail(t, map[string]string{"JWT_SECRET": s.secret}, "--user", "bea", "--url", "http://"+s.addr)
	waitFor(t, 10*time.Second, "tail to connect", func() bool { return strings.Contains(tail.out.String(), `"type":"connected"`) })
	n := s.notify("bea", "while tailing")
	waitFor(t, 10*time.Second, "the notification in tail's output", func() bool { return strings.Contains(tail.out.String(), n.ID) })
	if err := tail.stop(t); err != nil {
		t.Errorf("tail returned %v after the interrupt, want nil", err)
	}
	lines := tail.lines(t)
	if lines[0]["type"] != "connected" || lines[0]["userId"] != "bea" {
		t.Errorf("first line = %v, want connected for bea", lines[0])
	}
	if strings.Contains(tail.out.String(), old.ID) {
		t.Error("tail without --since replayed an old notification")
	}
	if !strings.Contains(tail.errOut.String(), "connected to ws://"+s.addr+"/ws as bea") {
		t.Errorf("stderr = %q, want the connection status", tail.errOut.String())
	}

	// --since 0 replays the whole inbox first; a token given with --token
	// names the user.
	replay := startTail(t, nil, "--token", token(t, s.secret, "bea"), "--since", "0", "--url", "ws://"+s.addr+"/ws")
	waitFor(t, 10*time.Second, "the replay", func() bool { return strings.Contains(replay.out.String(), `"type":"resumed"`) })
	replay.stop(t)
	var seqs []float64
	for _, m := range replay.lines(t) {
		if m["type"] == "notification:new" {
			seqs = append(seqs, m["notification"].(map[string]any)["seq"].(float64))
		}
	}
	if len(seqs) != 2 || seqs[0] != float64(old.Seq) || seqs[1] != float64(n.Seq) {
		t.Errorf("replayed seqs %v, want %d and %d", seqs, old.Seq, n.Seq)
	}

	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no token", []string{"--user", "u"}, nil, "token"},
		{"no user", nil, map[string]string{"JWT_SECRET": s.secret}, "--user"},
		{"bad since", []string{"--user", "u", "--since", "-2"}, map[string]string{"JWT_SECRET": s.secret}, "--since"},
	} {
		var o, e syncBuffer
		err := run(context.Background(), append([]string{"tail"}, c.args...), mapEnv(c.env), &o, &e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: tail = %v, want an error about %q", c.name, err, c.want)
		}
	}
}
