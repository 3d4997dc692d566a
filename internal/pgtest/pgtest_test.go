package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewDatabaseIsFreshAndSeparate(t *testing.T) {
	ctx := context.Background()
	a := connect(t, pgtest.NewDatabase(t))
	b := connect(t, pgtest.NewDatabase(t))

	if _, err := a.Exec(ctx, `CREATE TABLE t (v int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	var nameA, nameB string
	a.QueryRow(ctx, `SELECT current_database()`).Scan(&nameA)
	b.QueryRow(ctx, `SELECT current_database()`).Scan(&nameB)
	if nameA == nameB || nameA == "" {
		t.Fatalf("databases %q and %q are not two", nameA, nameB)
	}
	var exists bool
	if err := b.QueryRow(ctx, `SELECT to_regclass('t') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("a table created in one test database shows in another")
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) { url = pgtest.NewDatabase(t) })
	if url == "" {
		t.Skip("inner test skipped")
	}
	if _, err := pgx.Connect(context.Background(), url); err == nil {
		t.Fatal("the database of a finished test still accepts connections")
	}
}

func TestServerSettings(t *testing.T) {
	conn := connect(t, pgtest.NewDatabase(t))
	var fsync string
	if err := conn.QueryRow(context.Background(), `SHOW fsync`).Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(pgtest.EnvURL) == "" && fsync != "off" {
		t.Fatalf("fsync = %s, want off on the throwaway test server", fsync)
	}
}
