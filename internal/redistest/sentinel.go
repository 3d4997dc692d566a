package redistest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// MasterName is the name the test sentinels monitor their primary under.
const MasterName = "herald"

// Sentinel is a primary and a replica watched by three sentinels (the same
// redis-server binary with --sentinel), each with a password: the Redis
// servers' (Password) and the sentinels' own (SentinelPassword).
type Sentinel struct {
	Password         string
	SentinelPassword string
	// Servers are the primary and the replica, in start order; which one
	// is the primary changes with a failover (see Primary).
	Servers   []*Server
	Sentinels []*Server
}

// DownAfter is how long the test sentinels wait before they call a silent
// primary down: short, so that a failover takes a few seconds.
const DownAfter = time.Second

var (
	sentinelOnce   sync.Once
	sharedSentinel *Sentinel
	sentinelErr    error
)

// NewSentinel starts a primary, a replica and three sentinels for t alone,
// killed when t ends. Tests that kill the primary use one.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s, err := startSentinel()
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(s.kill)
	return s
}

// NewSentinelDB returns a fresh database number and prefix on the Sentinel
// set the test binary shares; Main stops it.
func NewSentinelDB(t testing.TB) *DB {
	t.Helper()
	sentinelOnce.Do(func() {
		if stopped.Load() {
			sentinelErr = errors.New("redistest: stopped")
			return
		}
		sharedSentinel, sentinelErr = startSentinel()
	})
	if sentinelErr != nil {
		fail(t, sentinelErr)
	}
	return sharedSentinel.NewDB(t)
}

// NewDB returns a fresh database number and prefix on s.
func (s *Sentinel) NewDB(t testing.TB) *DB {
	n := nextTest.Add(1)
	return &DB{URL: s.URLWithDB(int(n % databases)), Prefix: fmt.Sprintf("t%d-%d:", os.Getpid(), n)}
}

// URL is the redis-sentinel:// URL of the set, database 0.
func (s *Sentinel) URL() string { return s.URLWithDB(0) }

// URLWithDB is the redis-sentinel:// URL of the set with database db: the
// sentinels' addresses, the primary's name, both passwords.
func (s *Sentinel) URLWithDB(db int) string {
	return fmt.Sprintf("redis-sentinel://:%s@%s/%s/%d?sentinel_password=%s", url.PathEscape(s.Password),
		strings.Join(s.SentinelAddrs(), ","), MasterName, db, url.QueryEscape(s.SentinelPassword))
}

// SentinelAddrs lists the sentinels' host:port.
func (s *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, x := range s.Sentinels {
		out = append(out, x.Addr())
	}
	return out
}

func startSentinel() (*Sentinel, error) {
	n := nextTest.Add(1)
	s := &Sentinel{Password: fmt.Sprintf("data-%d-%d", os.Getpid(), n), SentinelPassword: fmt.Sprintf("sent-%d-%d", os.Getpid(), n)}
	auth := []string{"--requirepass", s.Password, "--masterauth", s.Password}
	primary, err := startWith(&Server{extra: func(*Server) []string { return auth }})
	if err != nil {
		return nil, err
	}
	s.Servers = append(s.Servers, primary)
	replica, err := startWith(&Server{extra: func(*Server) []string {
		return append(auth, "--replicaof", "127.0.0.1", strconv.Itoa(primary.port))
	}})
	if err != nil {
		s.kill()
		return nil, err
	}
	s.Servers = append(s.Servers, replica)
	for range 3 {
		x, err := startWith(&Server{sentinel: s.sentinelArgs(primary.port)})
		if err != nil {
			s.kill()
			return nil, err
		}
		s.Sentinels = append(s.Sentinels, x)
	}
	if err := s.waitReady(time.Minute); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// sentinelArgs writes a sentinel's configuration file, once (a sentinel
// rewrites its own), and returns its command line.
func (s *Sentinel) sentinelArgs(primaryPort int) func(x *Server) ([]string, error) {
	return func(x *Server) ([]string, error) {
		conf := filepath.Join(x.dir, "sentinel.conf")
		if _, err := os.Stat(conf); err != nil {
			body := fmt.Sprintf(`requirepass %s
sentinel sentinel-pass %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel auth-pass %s %s
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, s.SentinelPassword, s.SentinelPassword, MasterName, primaryPort, MasterName, s.Password,
				MasterName, DownAfter.Milliseconds(), MasterName, MasterName)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				return nil, err
			}
		}
		return []string{conf, "--sentinel",
			"--port", strconv.Itoa(x.port),
			"--bind", "127.0.0.1",
			"--protected-mode", "no",
			"--dir", x.dir,
			"--logfile", filepath.Join(x.dir, "redis.log"),
			"--daemonize", "no",
		}, nil
	}
}

func (s *Sentinel) kill() {
	for _, x := range append(append([]*Server(nil), s.Sentinels...), s.Servers...) {
		x.kill()
	}
}

func (s *Sentinel) sentinelClient(x *Server) *goredis.SentinelClient {
	return goredis.NewSentinelClient(&goredis.Options{Addr: x.Addr(), Password: s.SentinelPassword,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1, PoolSize: 1})
}

// Ready reports why the set is not settled: each running sentinel knows the
// primary, the two other sentinels and (withReplica) a replica, and the
// running sentinels agree on the primary, which says it is one.
func (s *Sentinel) Ready(ctx context.Context, withReplica bool) (primary string, err error) {
	for _, x := range s.Sentinels {
		if !x.Running() {
			continue
		}
		sc := s.sentinelClient(x)
		m, err := sc.Master(ctx, MasterName).Result()
		sc.Close()
		if err != nil {
			return "", fmt.Errorf("sentinel %s: %w", x.Addr(), err)
		}
		addr := m["ip"] + ":" + m["port"]
		switch {
		case m["flags"] != "master":
			return "", fmt.Errorf("sentinel %s: primary %s flags %s", x.Addr(), addr, m["flags"])
		case m["num-other-sentinels"] != "2":
			return "", fmt.Errorf("sentinel %s knows %s other sentinels", x.Addr(), m["num-other-sentinels"])
		case withReplica && m["num-slaves"] == "0":
			return "", fmt.Errorf("sentinel %s knows no replica", x.Addr())
		case primary != "" && addr != primary:
			return "", fmt.Errorf("sentinels disagree: %s and %s", primary, addr)
		}
		primary = addr
	}
	if primary == "" {
		return "", errors.New("no sentinel runs")
	}
	cl := goredis.NewClient(&goredis.Options{Addr: primary, Password: s.Password, DialTimeout: time.Second, MaxRetries: -1, PoolSize: 1})
	defer cl.Close()
	info, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return "", fmt.Errorf("primary %s: %w", primary, err)
	}
	if !strings.Contains(info, "role:master") {
		return "", fmt.Errorf("%s is not a primary yet", primary)
	}
	if withReplica && !strings.Contains(info, "connected_slaves:1") {
		return "", fmt.Errorf("primary %s has no replica connected", primary)
	}
	return primary, nil
}

func (s *Sentinel) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.Ready(ctx, true)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: the sentinels did not settle in %v: %w", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Primary returns the server the sentinels name primary.
func (s *Sentinel) Primary(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.Ready(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range s.Servers {
		if x.Addr() == addr {
			return x
		}
	}
	t.Fatalf("redistest: the sentinels name an unknown primary %s", addr)
	return nil
}

// KillPrimary kills the primary, as a crash would, and waits until the
// sentinels promoted the replica and it acts as primary. It returns the
// killed server.
func (s *Sentinel) KillPrimary(t testing.TB) *Server {
	t.Helper()
	victim := s.Primary(t)
	victim.Kill()
	deadline := time.Now().Add(30*time.Second + 10*DownAfter)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addr, err := s.Ready(ctx, false)
		cancel()
		if err == nil && addr != victim.Addr() {
			return victim
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the sentinels promoted no replica: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
