// Package sqlite is the SQLite adapter of bookstore.Store: it opens the
// database (one writer connection and a pool of read-only connections), runs
// the migrations of sql/sqlite/migrations, and maps the queries generated in
// gen/sqlitedb to and from domain types and errors.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
	schema "github.com/bookstore/bookstore/sql"
)

var _ bookstore.Store = (*DB)(nil)

// DB is an open SQLite database. SQLite allows one writer at a time, so every
// write goes through a single connection (waiting in database/sql's pool
// rather than in SQLite's busy loop); reads run in parallel on read-only
// connections, which WAL mode lets proceed alongside the writer.
type DB struct {
	writer *sql.DB
	reader *sql.DB
	wstmts *stmtCache        // prepared statements of the writer
	rstmts *stmtCache        // prepared statements of the reader pool
	w      *sqlitedb.Queries // single statements on the writer
	r      *sqlitedb.Queries // single statements on the reader pool
}

// Option changes how Open configures the connections.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
}

// WithBusyTimeout sets how long a statement waits for another connection's
// lock before failing with bookstore.ErrUnavailable (default 5 s).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = max(d, 0) }
}

// WithReaders sets the size of the read-only pool (default 4, at least 1:
// database/sql would read 0 as unlimited).
func WithReaders(n int) Option {
	return func(o *options) { o.readers = max(n, 1) }
}

// Open opens (creating if needed) the database file at path. The directory
// must already exist. Open does not migrate: call Migrate before using the
// store, or run it alone as a deployment step.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{busyTimeout: 5 * time.Second, readers: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// An in-memory database would be a different one on every
		// connection, and a URI would bypass the DSN built below.
		return nil, fmt.Errorf("sqlite: open %q: need the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// SQLite would report only "unable to open database file"; say why.
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sqlite: open %q: directory %q does not exist", path, filepath.Dir(abs))
	}

	writer, err := sql.Open("sqlite", dsn(abs, o.busyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	// The writer connects first: it creates the file and switches it to WAL,
	// which the read-only connections cannot do.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	reader, err := sql.Open("sqlite", dsn(abs, o.busyTimeout, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	reader.SetMaxOpenConns(o.readers)
	reader.SetMaxIdleConns(o.readers)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	wstmts, rstmts := &stmtCache{db: writer}, &stmtCache{db: reader}
	return &DB{writer: writer, reader: reader, wstmts: wstmts, rstmts: rstmts,
		w: sqlitedb.New(wstmts), r: sqlitedb.New(rstmts)}, nil
}

// dsn builds the connection string. Every _pragma runs on each new
// connection, so a connection the pool opens later is configured like the
// first. _txlock=immediate makes BEGIN take the write lock up front: a
// read-then-write transaction can then never fail to upgrade its lock.
func dsn(path string, busyTimeout time.Duration, readOnly bool) string {
	params := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")",
		"_pragma=foreign_keys(ON)",
	}
	if readOnly {
		// journal_mode is a property of the file (set by the writer);
		// BEGIN IMMEDIATE would fail on a read-only connection.
		params = append(params, "mode=ro")
	} else {
		params = append(params,
			"_pragma=journal_mode(WAL)",
			"_pragma=synchronous(NORMAL)",
			"_txlock=immediate",
		)
	}
	// Escape the path: '?', '#' and '%' mean something in a SQLite URI.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(params, "&")
}

// Migrate applies every pending migration of sql/sqlite/migrations, each in
// its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	migrations, err := fs.Sub(schema.SQLiteMigrations, "sqlite/migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	// No global registry: only the embedded SQL files are migrations.
	// (Provider.Close would close db.writer, so the provider is not closed.)
	p, err := goose.NewProvider(goose.DialectSQLite3, db.writer, migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Ping reports whether the database answers a trivial query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return mapErr(err, "", "")
	}
	return nil
}

// Close closes both pools. The writer goes last, after folding the WAL back
// into the database file so that the file alone is a complete copy.
func (db *DB) Close() error {
	db.rstmts.close()
	db.wstmts.close()
	errReader := db.reader.Close()
	_, errCheckpoint := db.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	errWriter := db.writer.Close()
	if err := errors.Join(errReader, errCheckpoint, errWriter); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// write runs fn in one transaction on the writer and commits when fn returns
// nil. fn must use only the Queries it is given: the writer has a single
// connection, which the transaction holds.
func (db *DB) write(ctx context.Context, fn func(q *sqlitedb.Queries) error) error {
	db.wstmts.preparePending(ctx)
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	if err := fn(sqlitedb.New(db.wstmts.inTx(tx))); err != nil {
		return err
	}
	return tx.Commit()
}

// Timestamps are stored as INTEGER unix milliseconds.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

// likePattern matches s as a literal substring in LIKE ... ESCAPE '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// limit turns a page size into SQLite's LIMIT, where -1 means no limit.
func limit(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}
