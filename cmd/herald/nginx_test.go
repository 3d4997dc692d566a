package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/ssetest"
)

// nginxConf is the proxy of docs/operations.md ("Behind a reverse proxy")
// without TLS, listening on a loopback port, with every path a test may
// look at under its own directory. Keep the locations in step with the
// document: this test is what shows that configuration works.
const nginxConf = `
daemon off;
master_process off;
worker_processes 1;
%[1]s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 256; }
http {
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    access_log off;
    log_format herald_no_query '$remote_addr [$time_local] "$request_method $uri" $status $body_bytes_sent $request_time';

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream herald {
        server %[3]s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:%[4]d;

        location /ws {
            proxy_pass http://herald;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 90s;
            proxy_send_timeout 90s;
            proxy_connect_timeout 5s;
            proxy_buffering off;
            proxy_request_buffering off;
            access_log %[2]s/herald.log herald_no_query;
        }
        location /sse {
            proxy_pass http://herald;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 90s;
            proxy_send_timeout 90s;
            access_log %[2]s/herald.log herald_no_query;
        }
        location / {
            proxy_pass http://herald;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
        }
    }
}
`

// startNginx runs Debian's nginx in front of herald at upstream with
// nginxConf and returns the proxy's address and its directory (logs). It
// skips when nginx is not installed, unless HERALD_TEST_REQUIRE_SERVICES=1.
func startNginx(t *testing.T, upstream string) (addr, dir string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if os.Getenv("HERALD_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("nginx is required (apt-get install nginx): %v", err)
		}
		t.Skipf("nginx is not installed: %v", err)
	}
	dir = t.TempDir()
	user := ""
	if os.Getuid() == 0 {
		user = "user root;" // the workers must read and write dir, which only root may
	}
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, user, dir, upstream, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	// -e: the error log before the configuration is read (Debian's default
	// is under /var/log/nginx, which a test must not need).
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			errs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), errs)
		}
	})
	addr = "127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, 15*time.Second, "nginx to proxy /healthz", func() bool {
		select {
		case <-done:
			errs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s %s", out.String(), errs)
		default:
		}
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr, dir
}

// TestBehindNginx runs a real nginx with the configuration docs/operations.md
// gives and shows every path through it: a WebSocket with a query token
// receives its notification, an SSE stream with a query token (as
// EventSource connects) receives one unbuffered with its seq as the event id
// and resumes from Last-Event-ID through the proxy, the REST API answers,
// and the documented access log format keeps the tokens out of the log.
func TestBehindNginx(t *testing.T) {
	p := startProc(t, procEnv(filepath.Join(t.TempDir(), "herald.db")))
	direct := newServer(t, p.addr, testSecret, testAPIKey)
	addr, dir := startNginx(t, p.addr)
	proxied := newServer(t, addr, testSecret, testAPIKey)

	// WebSocket: Upgrade and Connection pass; frames flow both ways.
	wsTok := token(t, testSecret, "alice")
	ws := dial(t, proxied.wsURL("alice", wsTok))
	if m := ws.read(); m["type"] != "connected" || m["userId"] != "alice" {
		t.Fatalf("first message through nginx: %v", m)
	}
	n := direct.notify("alice", "through nginx")
	if m := ws.expect("notification:new"); m["notification"].(map[string]any)["id"] != n.ID {
		t.Fatalf("notification through nginx: %v, want id %s", m, n.ID)
	}
	ws.send(map[string]any{"type": "ping"})
	for i := 0; ; i++ { // the unread count may come first
		if m := ws.read(); m["type"] == "pong" {
			break
		} else if i == 5 {
			t.Fatalf("no pong through nginx; last %v", m)
		}
	}

	// SSE with the query token: each event arrives when it is sent (a
	// buffering proxy would hold it until its buffer filled).
	sseTok := token(t, testSecret, "bob")
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/sse?userId=bob&token="+sseTok, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := ssetest.Open(t, &http.Client{}, req.WithContext(ctx))
	if ev := st.Next(); ev.Name != "connected" {
		t.Fatalf("first event through nginx: %+v", ev)
	}
	var last string
	for i := 0; i < 3; i++ {
		sent := direct.notify("bob", fmt.Sprintf("streamed %d", i))
		ev := st.Until("notification:new")
		if ev.ID != strconv.FormatInt(sent.Seq, 10) {
			t.Fatalf("event id %q through nginx, want seq %d", ev.ID, sent.Seq)
		}
		last = ev.ID
	}
	cancel()

	// Resume through the proxy: what was sent while no stream was open
	// comes once, in order, then resumed.
	var missed []int64
	for i := 0; i < 2; i++ {
		missed = append(missed, direct.notify("bob", fmt.Sprintf("missed %d", i)).Seq)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+addr+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, testSecret, "bob"))
	req.Header.Set("Last-Event-ID", last)
	back := ssetest.Open(t, &http.Client{}, req)
	if ev := back.Next(); ev.Name != "connected" || ev.ID != last {
		t.Fatalf("resumed greeting through nginx %+v, want id %s", ev, last)
	}
	for _, seq := range missed {
		if ev := back.Next(); ev.Name != "notification:new" || ev.ID != strconv.FormatInt(seq, 10) {
			t.Fatalf("replayed %+v through nginx, want seq %d", ev, seq)
		}
	}
	if ev := back.Next(); ev.Name != "resumed" {
		t.Fatalf("after the replay %+v, want resumed", ev)
	}

	// The REST API through location /.
	if code, body := proxied.do(http.MethodGet, "/api/notifications", token(t, testSecret, "bob"), nil); code != http.StatusOK {
		t.Fatalf("GET /api/notifications through nginx: %d %s", code, body)
	}

	// The access log of the socket paths has both, and neither token.
	ws.close()
	var log []byte
	waitFor(t, 5*time.Second, "nginx to log /ws and /sse", func() bool {
		log, _ = os.ReadFile(filepath.Join(dir, "herald.log"))
		return strings.Contains(string(log), `"GET /ws"`) && strings.Contains(string(log), `"GET /sse"`)
	})
	for _, tok := range []string{wsTok, sseTok} {
		if strings.Contains(string(log), tok) {
			t.Fatalf("a token is in nginx's access log:\n%s", log)
		}
	}
}
