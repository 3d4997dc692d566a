// Package redistest gives tests a real Redis: redis-server processes started
// from the installed binary (Debian's redis-server package) on free loopback
// ports, without persistence, in the three topologies Herald runs on.
//
// New shares one server per test binary and hands each test a database number
// of its own and, since pub/sub channels ignore database numbers, a key prefix
// of its own. NewServer starts a server for one test alone, for tests that stop
// and restart it to simulate an outage (Stop, Start).
//
// NewSentinel starts a primary, a replica and three sentinels (redis-server
// --sentinel), with passwords; NewCluster a Redis Cluster of three primaries
// with one replica each, made with redis-cli --cluster create. Both wait
// until the set has settled, and can kill a primary and wait for its
// replica's promotion; a Cluster can also move slots with redis-cli
// --cluster reshard. NewSentinelDB and NewClusterDB share one set per test
// binary, as New shares a server.
//
// A package's TestMain should call Main, which stops the shared servers when
// the tests end; every server is also killed by the kernel if the test binary
// dies.
//
// When redis-server is not installed, the test is skipped, or failed when
// HERALD_TEST_REQUIRE_SERVICES=1, so CI cannot pass by skipping.
package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
)

// EnvRequire set to "1" turns a missing redis-server into a test failure.
const EnvRequire = "HERALD_TEST_REQUIRE_SERVICES"

// databases is how many database numbers each server offers; tests take them
// in turn, and the prefix keeps two tests apart when the numbers wrap.
const databases = 64

var (
	once      sync.Once
	shared    *Server
	sharedErr error
	stopped   atomic.Bool
	nextTest  atomic.Int64 // numbers tests across servers, for prefixes
)

// DB is one test's share of a server, a Sentinel set or a Redis Cluster.
type DB struct {
	// URL is redis://127.0.0.1:port/N with the test's database number N,
	// or the set's redis-sentinel:// URL (with N), or the cluster's
	// redis-cluster:// URL.
	URL string
	// Prefix starts every key and channel name the test's code uses.
	Prefix string
	// Server is the server the database lives on (nil on a Sentinel set or
	// a Redis Cluster).
	Server *Server
}

// Main runs the tests of m, stops the shared server if one was started, and
// exits with the tests' status. Use it as the body of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop ends the shared server. Main calls it.
func Stop() {
	if !stopped.CompareAndSwap(false, true) {
		return
	}
	once.Do(func() { sharedErr = errors.New("redistest: stopped") })
	clusterOnce.Do(func() { clusterErr = errors.New("redistest: stopped") })
	sentinelOnce.Do(func() { sentinelErr = errors.New("redistest: stopped") })
	if shared != nil {
		shared.kill()
	}
	if sharedCluster != nil {
		sharedCluster.kill()
	}
	if sharedSentinel != nil {
		sharedSentinel.kill()
	}
}

// New returns a fresh database on the server the test binary shares.
func New(t testing.TB) *DB {
	t.Helper()
	once.Do(func() { shared, sharedErr = start(0) })
	if sharedErr != nil {
		fail(t, sharedErr)
	}
	return shared.NewDB(t)
}

// NewServer starts a server for t alone, killed when t ends. Tests that stop
// Redis use one, so other tests never see the outage.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := start(0)
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(s.kill)
	return s
}

// NewDB returns a fresh database number and prefix on s.
func (s *Server) NewDB(t testing.TB) *DB {
	n := nextTest.Add(1)
	return &DB{
		URL:    fmt.Sprintf("redis://%s/%d", s.Addr(), n%databases),
		Prefix: fmt.Sprintf("t%d-%d:", os.Getpid(), n),
		Server: s,
	}
}

func fail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNotInstalled) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("redistest: %v, and %s=1 requires it", err, EnvRequire)
		}
		t.Skipf("redistest: %v; skipping (set %s=1 to fail instead)", err, EnvRequire)
	}
	t.Fatalf("redistest: %v", err)
}

// errNotInstalled says redis-server was not found.
var errNotInstalled = errors.New("redis-server not found in PATH (Debian package redis-server)")

func lookPath() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errNotInstalled
	}
	return p, nil
}
