// Package postgres is the PostgreSQL adapter of bookstore.Store: it opens a
// pgx connection pool, runs the migrations of sql/postgres/migrations, and
// maps the queries generated in gen/pgdb to and from domain types and errors.
//
// Several server processes may share one database, so nothing here relies
// on being the only writer: read-modify-write runs in a transaction that
// locks the rows it read (SELECT ... FOR UPDATE), inserts that may race use
// ON CONFLICT, and Migrate holds an advisory lock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/bookstore/bookstore/gen/pgdb"
	"github.com/bookstore/bookstore/internal/bookstore"
	schema "github.com/bookstore/bookstore/sql"
)

var _ bookstore.Store = (*DB)(nil)

// DB is a pool of connections to one PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	// r and w run single statements on the pool, reads and writes: one
	// pool serves both, but the names match the SQLite adapter's, whose
	// reads and writes go to different connections.
	r, w *pgdb.Queries
}

// Defaults for what the URL does not set. The statement timeout stays well
// under the HTTP server's 30 s write timeout, so a stuck query ends as a 503
// rather than as a dropped connection.
const (
	defaultConnectTimeout   = 5 * time.Second
	defaultStatementTimeout = 10 * time.Second
	// defaultMaxConns is the pool's size unless set. Every write waits for
	// its commit's WAL flush while it holds a connection, so writes under
	// load overlap only as far as the pool lets them: with pgxpool's
	// max(4, CPUs), creates stood at 3,400/s on 2 cores and PostgreSQL
	// was half idle; 8 gave 4,300/s, 16 gave 4,900/s, with reads
	// unchanged. 16 lets 6 replicas share PostgreSQL's default
	// max_connections of 100.
	defaultMaxConns        = 16
	defaultApplicationName = "bookstore"
)

// Option changes how Open configures the pool. Options override the URL,
// which overrides the defaults.
type Option func(*pgxpool.Config)

// WithMaxConns sets the size of the pool (at least 1). Without it the URL's
// pool_max_conns applies, else defaultMaxConns.
// Every replica has its own pool: keep replicas × max conns under the
// server's max_connections.
func WithMaxConns(n int) Option {
	return func(c *pgxpool.Config) { c.MaxConns = int32(max(1, min(n, 1<<20))) }
}

// WithConnectTimeout bounds establishing one connection, including TLS and
// authentication (default: the URL's connect_timeout, else 5 s; 0 means no
// limit but the caller's context).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *pgxpool.Config) { c.ConnConfig.ConnectTimeout = max(d, 0) }
}

// WithStatementTimeout makes the server cancel any statement running longer
// than d, which then fails with bookstore.ErrUnavailable (default: the URL's
// statement_timeout, else 10 s; 0 means no limit). It is PostgreSQL's
// statement_timeout, sent as a runtime parameter when each connection starts.
func WithStatementTimeout(d time.Duration) Option {
	return func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(d, 0).Milliseconds(), 10)
	}
}

// Open configures a pool for the database at url, a postgres:// URL or a
// keyword/value string as libpq takes them. Open does not connect: the pool
// connects on first use, so a server can start while the database is still
// down and find it later. An error from Open is a bad URL or option; Ping
// tells whether the database answers. Open does not migrate either.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	if url == "" {
		// pgx would fall back to PGHOST and friends, or a local socket.
		return nil, errors.New("postgres: open: need a database URL")
	}
	cfg, err := pgxpool.ParseConfig(url) // the error text has the password masked
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// pgxpool takes pool_max_conns out of the configuration it parses, so
	// whether the URL set it shows only in the URL itself.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		WithStatementTimeout(defaultStatementTimeout)(cfg)
	}
	// Names the connections in pg_stat_activity.
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = defaultApplicationName
	}
	for _, opt := range opts {
		opt(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	q := pgdb.New(pool)
	return &DB{pool: pool, r: q, w: q}, nil
}

// migrationLockTimeout is how long Migrate waits for another process's
// migration, polling the advisory lock once a second.
const migrationLockTimeout = 5 * 60 // seconds

// Migrate applies every pending migration of sql/postgres/migrations, each in
// its own transaction. It holds a session-level advisory lock meanwhile, so
// when several replicas start at once one migrates and the others wait for
// it, then find nothing left to do. Connection failures are
// bookstore.ErrUnavailable, which a caller may retry.
func (db *DB) Migrate(ctx context.Context) error {
	migrations, err := fs.Sub(schema.PostgresMigrations, "postgres/migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, migrationLockTimeout))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	// A database/sql handle of its own (goose needs one), on connections
	// without the statement timeout: building an index on a large table may
	// rightly take longer than any request should. goose runs the lock and
	// every migration on a single connection of it.
	conf := db.pool.Config().ConnConfig
	conf.RuntimeParams["statement_timeout"] = "0"
	sqlDB := stdlib.OpenDB(*conf)
	defer sqlDB.Close()

	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations,
		goose.WithDisableGlobalRegistry(true), // only the embedded SQL files are migrations
		goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		if unavailable(err) {
			return fmt.Errorf("postgres: migrate: %w (%w)", errUnavailable(), err)
		}
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Ping reports whether the database answers.
// Remote is true: the database is a server of its own, which may be down,
// starting or failing over while this process runs, so a failure to reach
// it may mend by waiting.
func (db *DB) Remote() bool { return true }

// System is the engine's name as OpenTelemetry has it (db.system.name).
func (db *DB) System() string { return "postgresql" }

func (db *DB) Ping(ctx context.Context) error {
	return mapErr(db.pool.Ping(ctx), "", "")
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// maxAttempts bounds how often inTx runs a transaction that PostgreSQL
// aborted as a deadlock or serialization failure.
const maxAttempts = 4

// inTx runs fn in a READ COMMITTED transaction and commits when fn returns
// nil. When PostgreSQL aborts the transaction to break a deadlock (or a
// serialization failure), fn runs again from the start in a new transaction,
// a few times before the error is returned (mapErr makes it ErrUnavailable).
// So fn may run more than once: whatever it records for its caller it must
// set afresh on every run.
func (db *DB) inTx(ctx context.Context, fn func(q *pgdb.Queries) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		// The other transaction usually needs a moment to finish.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(q *pgdb.Queries) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	// A no-op after Commit. If it cannot be sent (a broken connection, a
	// cancelled ctx), the pool discards the connection, which is still in
	// a transaction, and the server rolls back on its own.
	defer tx.Rollback(ctx)
	if err := fn(db.w.WithTx(tx)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// retryable reports a transaction PostgreSQL aborted so that another could
// proceed: running it again is safe and likely to succeed.
func retryable(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pe.Code == "40001" || pe.Code == "40P01") // serialization_failure, deadlock_detected
}

// Timestamps are stored with millisecond precision, as SQLite stores them
// (unix ms) and as page cursors carry them: a time written and read back is
// the same instant on both engines, and a keyset position taken from a
// returned book matches the stored value exactly. toDB, toDBPtr, fromDB and
// fromDBPtr are the SQLite adapter's names too.

func toDB(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func toDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := toDB(*t)
	return &v
}

// fromDB returns times in UTC, as the SQLite adapter does; pgx returns them
// in the local zone.
func fromDB(t time.Time) time.Time { return t.UTC() }

func fromDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// maxRows turns a page size into a LIMIT parameter; NULL means no limit.
func maxRows(n int) *int64 {
	if n <= 0 {
		return nil
	}
	v := int64(n)
	return &v
}
