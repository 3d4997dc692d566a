package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverFlags are the flags every command that measures Herald shares: how to
// start the server, or which running one to attach to.
type serverFlags struct {
	bin         string
	pid         int   // the first --server-pid
	pids        []int // every --server-pid, for a run on several nodes
	addr        string
	apiKey      string
	jwtSecret   string
	databaseURL string
	logLevel    string
	env         multiFlag
	cpus        string // taskset CPU list for a started server (versus); empty: not pinned
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.bin, "server-bin", "herald", "Herald binary to start (a path, or a name looked up in PATH)")
	fs.Func("server-pid", "attach to this running server instead of starting one (needs --addr, --api-key, --jwt-secret); "+
		"fanout takes one per node of --addrs, repeated or comma-separated", f.addPids)
	fs.StringVar(&f.addr, "addr", "", "server address host:port (default: a free loopback port when starting; 127.0.0.1:3007 when attaching)")
	fs.StringVar(&f.apiKey, "api-key", os.Getenv("HERALD_API_KEY"), "server API key when attaching (env HERALD_API_KEY)")
	fs.StringVar(&f.jwtSecret, "jwt-secret", os.Getenv("JWT_SECRET"), "JWT secret when attaching, to mint client tokens (env JWT_SECRET)")
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL for the started server (DATABASE_URL); empty uses a fresh SQLite file")
	fs.StringVar(&f.logLevel, "server-log-level", "warn", "HERALD_LOG_LEVEL of the started server (its log goes to a file in a temporary directory)")
	fs.Var(&f.env, "server-env", "extra KEY=VALUE for the started server's environment (repeatable)")
}

// addPids parses one --server-pid: a pid, or several separated by commas.
func (f *serverFlags) addPids(v string) error {
	for _, s := range strings.Split(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || pid <= 0 {
			return fmt.Errorf("not a process id: %q", s)
		}
		f.pids = append(f.pids, pid)
	}
	f.pid = f.pids[0]
	return nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// target is the Herald server under test, started by the tool or attached to.
type target struct {
	pid       int
	addr      string // host:port
	apiKey    string
	jwtSecret string
	logPath   string // the started server's output; empty when attached

	cmd    *exec.Cmd     // nil when attached
	exited chan struct{} // closed when a started server has exited
	dir    string        // temporary directory of a started server

	// For another server than Herald (versus): its WebSocket path (default
	// /ws), the header its API key goes in (default Authorization: Bearer)
	// and its health path (default /healthz).
	wsPath, apiHeader, healthPath string
}

// wsURL is the base WebSocket URL of the endpoint.
func (t *target) wsURL() string {
	if t.wsPath != "" {
		return "ws://" + t.addr + t.wsPath
	}
	return "ws://" + t.addr + "/ws"
}

// startOrAttach returns the server to measure. maxConns is the connection
// limit a started server gets (WS_MAX_CONNECTIONS); an attached server must
// already allow what the run needs.
func startOrAttach(ctx context.Context, f *serverFlags, maxConns int) (*target, error) {
	if len(f.pids) > 1 {
		return nil, errors.New("one --server-pid only: fanout alone measures several nodes")
	}
	if f.pid != 0 {
		return attach(f, f.pid, f.addr)
	}
	return start(ctx, f, maxConns, nodeSpec{addr: f.addr, apiKey: randomHex(24), jwtSecret: randomHex(32)})
}

// attach checks that the server pid at addr (default 127.0.0.1:3007) runs and
// answers.
func attach(f *serverFlags, pid int, addr string) (*target, error) {
	if !alive(pid) {
		return nil, fmt.Errorf("no process %d", pid)
	}
	if f.apiKey == "" || f.jwtSecret == "" {
		return nil, errors.New("--server-pid needs --api-key and --jwt-secret (or HERALD_API_KEY and JWT_SECRET)")
	}
	t := &target{pid: pid, addr: addr, apiKey: f.apiKey, jwtSecret: f.jwtSecret}
	if t.addr == "" {
		t.addr = "127.0.0.1:3007"
	}
	if err := waitHealthy(context.Background(), t, 10*time.Second); err != nil {
		return nil, err
	}
	return t, nil
}

// nodeSpec is what one started server gets beyond serverFlags: its address
// (empty: a free loopback port), its secrets, which the nodes of a cluster
// share, and extra environment (REDIS_URL, HERALD_NODE_ID).
type nodeSpec struct {
	addr              string
	apiKey, jwtSecret string
	env               []string
}

// start runs the server binary with spec's secrets, a fresh SQLite file
// (unless a PostgreSQL URL is given) and the connection limit the run needs.
func start(ctx context.Context, f *serverFlags, maxConns int, spec nodeSpec) (*target, error) {
	bin, err := exec.LookPath(f.bin)
	if err != nil {
		return nil, fmt.Errorf("server binary %q: %w (build it: go build -o /tmp/herald ./cmd/herald, then --server-bin /tmp/herald)", f.bin, err)
	}
	addr := spec.addr
	if addr == "" {
		if addr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	t := &target{addr: addr, apiKey: spec.apiKey, jwtSecret: spec.jwtSecret, dir: dir,
		logPath: filepath.Join(dir, "herald.log")}
	logf, err := os.Create(t.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy

	env := serverEnviron(os.Environ())
	env = append(env,
		"HERALD_ENV=production",
		"HERALD_HOST="+host,
		"PORT="+port,
		"HERALD_API_KEY="+t.apiKey,
		"JWT_SECRET="+t.jwtSecret,
		"WS_MAX_CONNECTIONS="+strconv.Itoa(max(maxConns, 10000)),
		"HERALD_DB_PATH="+filepath.Join(dir, "herald.db"),
		"HERALD_LOG_LEVEL="+f.logLevel,
	)
	if f.databaseURL != "" {
		env = append(env, "DATABASE_URL="+f.databaseURL)
	}
	env = append(env, spec.env...)
	env = append(env, f.env...)

	t.cmd = pinnedCommand(f.cpus, bin, "serve")
	t.cmd.Env = env
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tool
	if err := t.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	t.pid = t.cmd.Process.Pid
	t.exited = make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(t.exited) }()

	// Wait for /healthz, giving up early if the server exits.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.exited:
			cancel()
		case <-hctx.Done():
		}
	}()
	if err := waitHealthy(hctx, t, 60*time.Second); err != nil {
		t.stop(false)
		return nil, fmt.Errorf("server did not become healthy (its log: %s): %w", t.logPath, err)
	}
	fmt.Fprintf(os.Stderr, "started %s: pid %d on %s (log: %s)\n", bin, t.pid, t.addr, t.logPath)
	return t, nil
}

// stop ends a started server, politely first, and removes its directory
// unless keep is set or the server failed; an attached server is left alone.
func (t *target) stop(keep bool) {
	if t.cmd == nil {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.exited:
	case <-time.After(15 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.exited
	}
	if !keep && t.cmd.ProcessState != nil && t.cmd.ProcessState.Success() {
		os.RemoveAll(t.dir)
	} else {
		fmt.Fprintf(os.Stderr, "server files kept in %s\n", t.dir)
	}
}

// freeLoopbackAddr returns 127.0.0.1 with a port that was free a moment ago,
// so that runs do not collide with a developer's server on 3007.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serverEnviron drops the variables that configure Herald from env, so that
// the started server runs on exactly what the tool sets.
func serverEnviron(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PORT" || k == "DATABASE_URL" || k == "JWT_SECRET" ||
			strings.HasPrefix(k, "HERALD_") || strings.HasPrefix(k, "WS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
