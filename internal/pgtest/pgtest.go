// Package pgtest gives tests a real PostgreSQL server: the first test that
// asks starts one from the installed binaries (initdb and postgres) in a
// temporary directory, and every test gets a fresh database on it.
//
// One server serves the whole test binary. A package's TestMain should call
// Main, which stops the server and removes its files when the tests end; the
// server is also told to quit if the test binary dies without doing so.
//
// When the binaries are not installed, NewDatabase skips the test, or fails it
// when HERALD_TEST_REQUIRE_SERVICES=1, so CI cannot pass by skipping.
// HERALD_TEST_POSTGRES_URL names an existing server to use instead; its user
// must be allowed to create databases.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Environment variables pgtest reads.
const (
	EnvRequire = "HERALD_TEST_REQUIRE_SERVICES" // "1": fail instead of skipping
	EnvURL     = "HERALD_TEST_POSTGRES_URL"     // use this server, start none
)

var (
	once      sync.Once
	shared    *cluster
	sharedErr error
	stopped   atomic.Bool
)

// cluster is the server the tests share and a pool on its maintenance database.
type cluster struct {
	base  *url.URL      // server URL without a database name
	admin *pgxpool.Pool // on the postgres database, for CREATE and DROP DATABASE
	srv   *server       // nil when EnvURL names the server
	next  atomic.Int64  // numbers the databases
}

// Main runs the tests of m, stops the server if one was started, and exits
// with the tests' status. Use it as the body of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop shuts the shared server down and removes its files. Main calls it;
// databases cannot be created afterwards.
func Stop() {
	if !stopped.CompareAndSwap(false, true) {
		return
	}
	once.Do(func() { sharedErr = errors.New("pgtest: stopped") }) // none started: start none later
	if shared == nil {
		return
	}
	shared.admin.Close()
	if shared.srv != nil {
		shared.srv.stop()
	}
}

// NewDatabase creates an empty database for t and returns its URL. The
// database is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c, err := get()
	if errors.Is(err, errNotInstalled) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("pgtest: %v, and %s=1 requires it", err, EnvRequire)
		}
		t.Skipf("pgtest: %v; skipping (set %s=1 to fail instead)", err, EnvRequire)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	name := fmt.Sprintf("herald_test_%d_%d", os.Getpid(), c.next.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	u := *c.base
	u.Path = "/" + name
	return u.String()
}

// get returns the shared cluster, starting it on first use.
func get() (*cluster, error) {
	once.Do(func() { shared, sharedErr = connect() })
	return shared, sharedErr
}

func connect() (*cluster, error) {
	c := &cluster{}
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s is not a URL", EnvURL)
		}
		c.base = u
	} else {
		srv, err := start()
		if err != nil {
			return nil, err
		}
		c.srv, c.base = srv, srv.url()
	}
	adminURL := *c.base
	adminURL.Path = "/postgres"
	cfg, err := pgxpool.ParseConfig(adminURL.String())
	if err != nil {
		c.stop()
		return nil, err
	}
	cfg.MaxConns = 2
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.admin, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
		err = c.admin.Ping(ctx)
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("connect to the test server: %w", err)
	}
	return c, nil
}

func (c *cluster) stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	if c.srv != nil {
		c.srv.stop()
	}
}
