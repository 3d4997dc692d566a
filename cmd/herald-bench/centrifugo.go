package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// This file is the Centrifugo side of the versus command: starting a
// Centrifugo v6 server with a benchmark configuration, and a client speaking
// its bidirectional JSON protocol over WebSocket.
//
// The protocol, as the workers use it: the client sends
// {"id":1,"connect":{"token":JWT}} and {"id":2,"subscribe":{"channel":"ch"}};
// replies carry the command's id and either its result under the command's
// name or an "error" object. Publications arrive as
// {"push":{"channel":"ch","pub":{"data":{...}}}}. An empty object {} is the
// server's ping, answered with {}. One WebSocket frame may hold several of
// these messages, one per line.

const protoCentrifugo = "centrifugo"

// centrifugoConfig is the configuration a started Centrifugo gets: memory
// engine (the default), no history, no presence, JSON protocol, clients
// authenticated with HS256 tokens and allowed to subscribe to channels
// without a namespace, the server HTTP API on the same port with a key.
// With personal set, every connection is also subscribed on the server side
// to its user's personal channel "#<user>" (unicast).
func centrifugoConfig(host string, port int, apiKey, jwtSecret, logLevel string, personal bool) map[string]any {
	return map[string]any{
		"http_server": map[string]any{"address": host, "port": port},
		"log":         map[string]any{"level": logLevel},
		"client": map[string]any{
			"token":                              map[string]any{"hmac_secret_key": jwtSecret},
			"allowed_origins":                    []string{"*"},
			"subscribe_to_user_personal_channel": map[string]any{"enabled": personal},
		},
		"channel": map[string]any{
			"without_namespace": map[string]any{"allow_subscribe_for_client": true},
		},
		"http_api":    map[string]any{"key": apiKey},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
	}
}

// startCentrifugo runs bin with a fresh configuration file on a free
// loopback port (personal: with personal channels), pinned to cpus with taskset when cpus is not empty, and
// waits for its /health.
func startCentrifugo(ctx context.Context, bin, cpus, logLevel string, personal bool) (*target, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("centrifugo binary %q: %w", bin, err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	dir, err := os.MkdirTemp("", "herald-bench-centrifugo-")
	if err != nil {
		return nil, err
	}
	t := &target{addr: addr, apiKey: randomHex(24), jwtSecret: randomHex(32), dir: dir,
		logPath: filepath.Join(dir, "centrifugo.log"), wsPath: "/connection/websocket", apiHeader: "X-API-Key"}
	cfg, _ := json.MarshalIndent(centrifugoConfig(host, port, t.apiKey, t.jwtSecret, logLevel, personal), "", "  ")
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(t.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	t.cmd = pinnedCommand(cpus, path, "--config", cfgPath)
	t.cmd.Dir = dir
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := t.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	t.pid = t.cmd.Process.Pid
	t.exited = make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(t.exited) }()
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.exited:
			cancel()
		case <-hctx.Done():
		}
	}()
	t.healthPath = "/health"
	if err := waitHealthy(hctx, t, 60*time.Second); err != nil {
		t.stop(false)
		return nil, fmt.Errorf("centrifugo did not become healthy (its log: %s): %w", t.logPath, err)
	}
	fmt.Fprintf(os.Stderr, "started %s: pid %d on %s (log: %s)\n", path, t.pid, t.addr, t.logPath)
	return t, nil
}

// pinnedCommand runs bin with args, through "taskset -c cpus" when cpus is
// set: taskset execs bin, so the process id is bin's.
func pinnedCommand(cpus, bin string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
}

// cfMessage is one Centrifugo protocol message from the server, as far as
// the benchmark reads it.
type cfMessage struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Connect   json.RawMessage `json:"connect"`
	Subscribe json.RawMessage `json:"subscribe"`
	Push      *struct {
		Channel string `json:"channel"`
		Pub     *struct {
			Data json.RawMessage `json:"data"`
		} `json:"pub"`
	} `json:"push"`
}

// cfLines splits a frame's payload into its messages: Centrifugo's JSON
// protocol puts several in one frame, one per line. Empty lines are dropped.
func cfLines(p []byte, f func(line []byte) error) error {
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := f(line); err != nil {
			return err
		}
	}
	return nil
}

// cfIsPing reports whether a message is the server's ping, an empty object.
func cfIsPing(line []byte) bool { return bytes.Equal(line, []byte("{}")) }

// cfIsPush reports cheaply whether a message is an asynchronous push: the
// fan-out hot path reads its fields with intField instead of decoding it.
func cfIsPush(line []byte) bool {
	return bytes.HasPrefix(line, []byte(`{"push":`)) || (!bytes.Contains(line, []byte(`"id":`)) && bytes.Contains(line, []byte(`"push"`)))
}

// cfAwaitReply reads messages until the reply to command id, answering
// pings; an error reply or a close frame refuses the connection.
func (c *client) cfAwaitReply(id uint32) error {
	for range 16 {
		op, p, err := c.readMessage()
		if err != nil {
			return err
		}
		if op == ws.OpClose {
			return &refusal{Close: closeCode(p), Detail: truncate(p[min(2, len(p)):], 80)}
		}
		done := false
		err = cfLines(p, func(line []byte) error {
			if cfIsPing(line) {
				return c.write(ws.OpText, []byte("{}"))
			}
			var m cfMessage
			if err := json.Unmarshal(line, &m); err != nil {
				return fmt.Errorf("%w: unreadable message %s", errRefused, truncate(line, 120))
			}
			if m.ID != id {
				return nil
			}
			if m.Error != nil {
				return &refusal{Code: m.Error.Code, Detail: m.Error.Message}
			}
			done = true
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("%w: no reply to command %d", errRefused, id)
}

// cfHandshake connects with a token and subscribes to channel.
func (c *client) cfHandshake(token, channel string) error {
	connect := fmt.Appendf(nil, `{"id":1,"connect":{"token":%q,"name":"herald-bench"}}`, token)
	if err := c.write(ws.OpText, connect); err != nil {
		return err
	}
	if err := c.cfAwaitReply(1); err != nil {
		return err
	}
	if channel == "" {
		return nil
	}
	sub := fmt.Appendf(nil, `{"id":2,"subscribe":{"channel":%q}}`, channel)
	if err := c.write(ws.OpText, sub); err != nil {
		return err
	}
	return c.cfAwaitReply(2)
}

// cfPublishBody wraps a channel message in a Centrifugo publish request.
func cfPublishBody(b []byte, channel string, data []byte) []byte {
	b = append(b, `{"channel":`...)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}
