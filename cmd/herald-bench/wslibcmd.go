package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldhq/herald/cmd/herald-bench/wslib"
)

func runWSLib(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench wslib", flag.ContinueOnError)
	var lf loadFlags
	var f idleFlags
	lf.register(fs)
	f.register(fs, "10s")
	libs := fs.String("libs", strings.Join(wslib.Libraries, ","), "servers to measure, comma-separated")
	repeat := fs.Int("repeat", 1, "measure every server this many times, in rotating order")
	jsonOut := fs.Bool("json", false, "print the results as JSON on stdout")
	fs.Usage = commandUsage(fs, `wslib: RSS per idle connection of minimal servers on three WebSocket libraries.

For each library, starts a throwaway server (accept, upgrade, a read loop that
answers pings, nothing else; see cmd/herald-bench/wslib) as a separate
process, opens --conns idle connections to it, and reports at each --at time the
growth of its RSS per connection, with the Go runtime's stack and heap
figures. Libraries: gobwas (github.com/gobwas/ws on the raw socket),
gobwas-http (the same behind net/http, as Herald runs it), gobwas-http-go
(behind net/http, read loop on a fresh goroutine), gws (github.com/lxzan/gws)
and coder (github.com/coder/websocket).`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	names := strings.Split(*libs, ",")
	for _, n := range names {
		if !slices.Contains(wslib.Libraries, n) {
			return fmt.Errorf("unknown library %q (known: %v)", n, wslib.Libraries)
		}
	}
	var results []*idleResult
	for rep := range max(*repeat, 1) {
		for i := range names {
			lib := names[(i+rep)%len(names)]
			res, err := measureLib(ctx, lib, f, lf)
			if err != nil {
				return fmt.Errorf("%s: %w", lib, err)
			}
			results = append(results, res)
		}
	}
	if *jsonOut {
		return printJSON(results)
	}
	printIdle(os.Stdout, results)
	if *repeat > 1 {
		fmt.Println()
		for _, n := range names {
			var v []float64
			for _, r := range results {
				if r.Server == n && len(r.Samples) > 0 {
					v = append(v, r.perConn(r.Before.Memory.RSS, r.Samples[0].Memory.RSS))
				}
			}
			slices.Sort(v)
			fmt.Printf("%-12s ΔRSS/conn best %s  median %s  worst %s\n", n, kibf(v[0]), kibf(v[len(v)/2]), kibf(v[len(v)-1]))
		}
	}
	return nil
}

func measureLib(ctx context.Context, lib string, f idleFlags, lf loadFlags) (*idleResult, error) {
	m, err := startMiniServer(lib)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	time.Sleep(time.Second)
	base := job{Mode: modeRaw, URL: "ws://" + m.addr + "/ws"}
	return measureIdle(ctx, m, base, f, lf)
}

// miniServer is a running "herald-bench wslib-server" child. It answers
// "stats" lines on its stdin with a miniStats line on its stdout.
type miniServer struct {
	lib  string
	addr string
	cmd  *exec.Cmd

	mu    sync.Mutex
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// miniStats is a mini server's answer to "stats".
type miniStats struct {
	runtimeStats
	Conns int `json:"conns"`
}

func startMiniServer(lib string) (*miniServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	m := &miniServer{lib: lib}
	m.cmd = exec.Command(self, "wslib-server", "--lib", lib)
	m.cmd.Stderr = os.Stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	m.out = bufio.NewScanner(stdout)
	if !m.out.Scan() {
		m.stop()
		return nil, errors.New("the mini server did not report its address")
	}
	var hello struct{ Addr string }
	if err := json.Unmarshal(m.out.Bytes(), &hello); err != nil || hello.Addr == "" {
		m.stop()
		return nil, fmt.Errorf("mini server said %q", m.out.Text())
	}
	m.addr = hello.Addr
	return m, nil
}

func (m *miniServer) name() string   { return m.lib }
func (m *miniServer) processID() int { return m.cmd.Process.Pid }

func (m *miniServer) stats() (miniStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s miniStats
	if _, err := io.WriteString(m.stdin, "stats\n"); err != nil {
		return s, err
	}
	if !m.out.Scan() {
		return s, fmt.Errorf("mini server %s is gone", m.lib)
	}
	return s, json.Unmarshal(m.out.Bytes(), &s)
}

func (m *miniServer) connections(context.Context) (int, error) {
	s, err := m.stats()
	return s.Conns, err
}

func (m *miniServer) runtime(context.Context) (runtimeStats, error) {
	s, err := m.stats()
	return s.runtimeStats, err
}

func (m *miniServer) stop() {
	m.stdin.Close() // the server exits when its stdin closes
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
}

// runWSLibServer is the hidden "wslib-server" command: a mini server that
// prints {"addr":…} once listening, answers "stats" lines on stdin, and exits
// when stdin closes or its lifetime ends.
func runWSLibServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald-bench wslib-server", flag.ContinueOnError)
	lib := fs.String("lib", "gobwas", "library: "+strings.Join(wslib.Libraries, ", "))
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	lifetime := fs.Duration("lifetime", time.Hour, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var live atomic.Int64
	errc := make(chan error, 1)
	go func() { errc <- wslib.Serve(*lib, ln, &live) }()
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(map[string]string{"addr": ln.Addr().String()}); err != nil {
		return err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if line != "stats" {
				continue
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			_ = enc.Encode(miniStats{
				runtimeStats: runtimeStats{Goroutines: int64(runtime.NumGoroutine()), HeapInuse: int64(ms.HeapInuse),
					StackInuse: int64(ms.StackInuse), Sys: int64(ms.Sys)},
				Conns: int(live.Load()),
			})
		}
	}
}
