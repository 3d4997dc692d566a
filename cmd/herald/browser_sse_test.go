package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/noupgrade"
)

// TestBrowserSSE runs web/test/sse-e2e.mjs in a real Chromium against the
// binary: a plain EventSource across a SIGKILL and restart (the browser's own
// reconnect with Last-Event-ID loses and duplicates nothing), and the demo
// page behind a proxy that strips WebSocket upgrades, which ends up on SSE
// with toasts and exact unread counts.
func TestBrowserSSE(t *testing.T) {
	root, web := browserSetup(t)
	artifacts := filepath.Join(root, "test-artifacts", "browser-sse")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	env, p, port := startDemoProc(t)
	proxy := noupgrade.Start(t, "http://"+p.addr)
	res := runBrowserScript(t, web, "sse-e2e.mjs",
		[]string{"--base", "http://" + p.addr, "--proxy", proxy.URL, "--api-key", testAPIKey, "--artifacts", artifacts},
		func(cmd string) string {
			switch cmd {
			case "kill":
				p.signal(syscall.SIGKILL)
				p.wait(15 * time.Second)
			case "start":
				p = startProcOn(t, port, env)
			default:
				return "unknown command " + cmd
			}
			return "ok"
		})
	checkNames(t, res, []string{
		"a plain EventSource receives notifications",
		"EventSource resumes across a SIGKILL restart: nothing lost, nothing twice",
		"the demo behind a proxy that strips Upgrade ends on SSE with toasts and exact unread counts",
		"no script errors on the pages",
	})
	if proxy.Stripped() == 0 {
		t.Error("the demo page never tried a WebSocket through the proxy")
	}
}
