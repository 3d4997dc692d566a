package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebugListener: the profiler is served on its own address only when
// HERALD_DEBUG_ADDR asks for it, never on the public port.
func TestDebugListener(t *testing.T) {
	debugAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startApp(t, map[string]string{"HERALD_DEBUG_ADDR": debugAddr})
	client := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	waitFor(t, 5*time.Second, "the debug listener", func() bool {
		var err error
		resp, err = client.Get("http://" + debugAddr + "/debug/pprof/")
		return err == nil
	})
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("debug listener answered %d", resp.StatusCode)
	}
	if code, _ := s.do("GET", "/debug/pprof/", "", nil); code == 200 {
		t.Fatal("the public port serves the profiler")
	}
	plain := startApp(t, nil)
	if code, _ := plain.do("GET", "/debug/pprof/", "", nil); code == 200 {
		t.Fatal("the profiler is served without HERALD_DEBUG_ADDR")
	}
}

// TestHangupWithoutTLS: SIGHUP (a closed terminal, a reload sent by habit)
// does not end a node that has no certificate to reload.
func TestHangupWithoutTLS(t *testing.T) {
	p := startProc(t, map[string]string{"JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey})
	p.signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond) // a killed process exits at once; give it the chance
	select {
	case <-p.done:
		t.Fatalf("SIGHUP ended herald: %v\n%s", p.err, p.stderr.String())
	default:
	}
	if err := p.waitHealthy(); err != nil || strings.Contains(p.stderr.String(), "herald stopped") {
		t.Fatalf("not serving after SIGHUP: %v", err)
	}
}
