// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the database named by BOOKSTORE_TEST_POSTGRES_URL, dropped with
// everything in it when the test ends. It also says which engine the
// engine-parameterised suites (internal/httpapi, cmd/bookstore) run on.
//
// It is for tests only; nothing but _test.go files imports it.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment of the PostgreSQL runs. Without EnvURL every PostgreSQL
// test skips; EnvEngine=postgres runs the engine-parameterised suites on
// PostgreSQL instead of SQLite (`make test` does both when EnvURL is set).
const (
	EnvURL    = "BOOKSTORE_TEST_POSTGRES_URL"
	EnvEngine = "BOOKSTORE_TEST_ENGINE"
)

// Engine names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Engine returns the engine the parameterised suites run on: SQLite unless
// EnvEngine says postgres, which then needs EnvURL.
func Engine() (string, error) {
	switch e := strings.ToLower(os.Getenv(EnvEngine)); e {
	case "", SQLite:
		return SQLite, nil
	case Postgres, "postgresql":
		if os.Getenv(EnvURL) == "" {
			return "", fmt.Errorf("%s=%s needs %s, the URL of a database the tests may create schemas in", EnvEngine, e, EnvURL)
		}
		return Postgres, nil
	default:
		return "", fmt.Errorf("%s=%q: want sqlite or postgres", EnvEngine, e)
	}
}

// URL returns the URL of the test database, or skips tb.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skip(EnvURL + " is not set; skipping PostgreSQL tests")
	}
	return u
}

// Schema creates an empty schema in the test database, dropped with
// everything in it when tb ends, and returns its name and the test URL with
// search_path set to it: a store opened on that URL has tables of its own.
// The name is also the connections' application_name, so a test can find
// them in pg_stat_activity (see Terminate).
func Schema(tb testing.TB) (name, dbURL string) {
	tb.Helper()
	base := URL(tb)
	name = "bookstore_test_" + strings.ToLower(rand.Text()[:12])
	mustTrigramExtension(tb, base)
	MustExec(tb, base, "CREATE SCHEMA "+name)
	tb.Cleanup(func() {
		// tb.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Exec(ctx, base, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name, WithParams(tb, base, map[string]string{"search_path": name, "application_name": name})
}

// mustTrigramExtension installs pg_trgm (which the migrations need) in the
// public schema before any test schema exists. Left to the migration, it
// would go into the first test schema to migrate, the others' indexes
// would depend on it, and dropping that schema would take them along.
// Tests in other processes may install it at the same moment: losing that
// race is a duplicate-key error, and then it exists.
func mustTrigramExtension(tb testing.TB, base string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const create = "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"
	if Exec(ctx, base, create) == nil {
		return
	}
	// Once the winner has committed, IF NOT EXISTS holds.
	if err := Exec(ctx, base, create); err != nil {
		tb.Fatalf("%s: %v", create, err)
	}
}

// WithParams adds connection parameters to a postgres:// URL or a
// keyword/value connection string.
func WithParams(tb testing.TB, conn string, params map[string]string) string {
	tb.Helper()
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		conn += " " + k + "=" + v // the values used here need no quoting
	}
	return conn
}

// Exec runs one statement on a connection of its own.
func Exec(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// MustExec is Exec that fails tb.
func MustExec(tb testing.TB, dbURL, sql string, args ...any) {
	tb.Helper()
	if err := Exec(context.Background(), dbURL, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// Terminate ends every server process of the connections whose
// application_name is name, and waits until they are gone: to the pools
// that held them, the database went away.
func Terminate(tb testing.TB, name string) {
	tb.Helper()
	base := URL(tb)
	ctx := context.Background()
	MustExec(tb, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", name)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 100 {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("connections %s still there after 1 s", name)
}
