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
	"sync"
	"sync/atomic"
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
	// checkpointer is a connection of its own that copies the WAL back
	// into the database file beside the writer (runCheckpointer).
	checkpointer *sql.DB
	wstmts       *stmtCache        // prepared statements of the writer
	rstmts       *stmtCache        // prepared statements of the reader pool
	w            *sqlitedb.Queries // single statements on the writer
	r            *sqlitedb.Queries // single statements on the reader pool

	writes           chan *pendingWrite // to runWriter, unbuffered: a write is queued only once taken
	closing          chan struct{}      // closed by Close: runWriter stops
	writerDone       chan struct{}      // closed when runWriter has stopped
	migrated         chan struct{}      // Migrate → runWriter: the schema is current (buffered 1)
	committed        chan struct{}      // runWriter → runCheckpointer: a batch committed (buffered 1)
	checkpointerDone chan struct{}      // closed when runCheckpointer has stopped
	closeOnce        sync.Once
	commits          atomic.Int64  // transactions runWriter committed (tests compare it with writes)
	indexDelay       time.Duration // how long books wait to be indexed (searchIndexDelay)
}

// Option changes how Open configures the connections.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
	indexDelay  time.Duration // searchIndexDelay unless a test sets it
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
	o := options{busyTimeout: 5 * time.Second, readers: 4, indexDelay: searchIndexDelay}
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

	checkpointer, err := sql.Open("sqlite", dsn(abs, o.busyTimeout, false))
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	checkpointer.SetMaxOpenConns(1)
	checkpointer.SetMaxIdleConns(1)
	checkpointer.SetConnMaxIdleTime(0)
	checkpointer.SetConnMaxLifetime(0)

	wstmts, rstmts := &stmtCache{db: writer}, &stmtCache{db: reader}
	db := &DB{writer: writer, reader: reader, checkpointer: checkpointer, wstmts: wstmts, rstmts: rstmts,
		w: sqlitedb.New(wstmts), r: sqlitedb.New(rstmts),
		writes: make(chan *pendingWrite), closing: make(chan struct{}), writerDone: make(chan struct{}),
		migrated: make(chan struct{}, 1), indexDelay: o.indexDelay,
		committed: make(chan struct{}, 1), checkpointerDone: make(chan struct{})}
	go db.runWriter()
	go db.runCheckpointer()
	return db, nil
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
			// runCheckpointer copies the WAL back as it grows; the
			// writer's own checkpoint at commit is the backstop that
			// starts the WAL over (see writerCheckpointPages).
			"_pragma=wal_autocheckpoint("+strconv.Itoa(writerCheckpointPages)+")",
			// A write of a batch is several statements in a savepoint:
			// their statement journals stay in memory, not in temp files.
			"_pragma=temp_store(MEMORY)",
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
	select {
	case db.migrated <- struct{}{}:
	default: // told already
	}
	return nil
}

// Ping reports whether the database answers a trivial query.
// Remote is false: the database is a local file, there or not, so a
// failure to open it does not mend by waiting.
func (db *DB) Remote() bool { return false }

// System is the engine's name as OpenTelemetry has it (db.system.name).
func (db *DB) System() string { return "sqlite" }

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
	db.closeOnce.Do(func() { close(db.closing) })
	<-db.writerDone // the batch in progress commits first
	<-db.checkpointerDone
	db.rstmts.close()
	db.wstmts.close()
	errReader := db.reader.Close()
	_, errCheckpoint := db.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	errWriter := db.writer.Close()
	errCheckpointer := db.checkpointer.Close()
	if err := errors.Join(errReader, errCheckpoint, errWriter, errCheckpointer); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction on the writer and returns once that
// transaction has committed (or fn's error, with nothing fn did kept). fn
// must use only the Queries it is given: the writer has a single connection,
// which the transaction holds.
//
// Writes are group-committed (see runWriter): fn may share its transaction
// with other writes, each in its own savepoint. fn's statements are not
// cancelled by ctx once it runs (interrupting a statement would roll back
// the whole shared transaction); ctx cancels only the wait for the writer.
func (db *DB) inTx(ctx context.Context, fn func(q *sqlitedb.Queries) error) error {
	w := &pendingWrite{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case db.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	// Taken by the writer: the outcome is the commit's, whatever ctx does.
	res := <-w.done
	if res.panicked != nil {
		panic(res.panicked) // fn's panic, raised again in its own goroutine
	}
	return res.err
}

var errClosed = errors.New("sqlite: the database is closed")

// maxBatch bounds the writes one transaction carries, and so the time the
// first of them waits for its commit.
const maxBatch = 64

type pendingWrite struct {
	ctx  context.Context
	fn   func(q *sqlitedb.Queries) error
	done chan writeResult // buffered: the writer never waits for the caller
}

type writeResult struct {
	err      error
	panicked any
}

// runWriter is the one goroutine that writes through db.inTx. Each round it
// takes the first waiting write and every other write waiting at that moment
// (up to maxBatch), runs them in one transaction, each inside its own
// savepoint so that a failing write is rolled back alone, commits once, and
// only then answers each of them. Durability is that of a transaction per
// write: an answered write is committed. What one commit saves (the WAL
// frames of pages several writes dirty, the sync at commit, BEGIN) is why
// writes under load do not queue one commit at a time.
//
// Between batches it also moves the books waiting in books_search_pending
// into the search index (see indexPending): searchIndexDelay after a
// commit, so that the index takes the books of many batches at once.
func (db *DB) runWriter() {
	defer close(db.writerDone)
	batch := make([]*pendingWrite, 0, maxBatch)
	// Due when the search index is to take what waits for it; nil while
	// nothing was committed since the last time.
	var indexDue <-chan time.Time
	for {
		select {
		case w := <-db.writes:
			batch = append(batch[:0], w)
		case <-db.migrated:
			// Books a copy, an import or a crash may have left waiting.
			if indexDue == nil {
				indexDue = time.After(db.indexDelay)
			}
			continue
		case <-indexDue:
			indexDue = nil
			if more := db.indexPending(); more {
				indexDue = time.After(0)
			}
			continue
		case <-db.closing:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-db.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		if db.commitBatch(batch) && indexDue == nil {
			indexDue = time.After(db.indexDelay)
		}
		clear(batch) // let the answered writes go
	}
}

// searchIndexDelay is how long books wait in books_search_pending before
// runWriter indexes them. Searches read the pending books too, so the delay
// is a matter of cost, never of results. Measured under a stream of creates
// (wrk, 32 connections): rounds every 100 ms took ≈ 10 % of the writer's
// time (FTS5 merges its many small segments), every 500 ms ≈ 4.5 %; a
// search then also reads at most half a second of new books.
const searchIndexDelay = 500 * time.Millisecond

// maxIndexRound bounds the books one indexPending moves, so a backlog (a
// copy of a million books) is indexed in steps with the other writes in
// between: with a million books indexed, rounds of 10,000 took ≈ 220 ms of
// the writer's time each (FTS5 merges into ever larger segments); rounds of
// 2,000 take ≈ 45 ms. The price is the merging: 1.1 million bulk-inserted
// books took 86 s to index after start in rounds of 2,000, 25 s in rounds
// of 10,000.
const maxIndexRound = 2000

// indexPending moves up to maxIndexRound books from books_search_pending
// into the search index, in one transaction on the writer, and reports
// whether more are waiting. A failure is logged nowhere and changes
// nothing: the books stay pending (and found by searches), and the next
// round tries again.
func (db *DB) indexPending() (more bool) {
	ctx := context.Background()
	// Most commits (sessions, users) leave nothing to index: a reader
	// says so without taking the write lock.
	if last, err := db.r.LastPendingSearchRowid(ctx); err != nil || last == 0 {
		return false
	}
	db.wstmts.preparePending(ctx)
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	defer tx.Rollback()
	q := sqlitedb.New(db.wstmts.inTx(tx))
	// The last rowid of this round: the maxIndexRound-th pending one, or
	// the last one if fewer wait.
	last, err := q.PendingSearchRowidAt(ctx, maxIndexRound-1)
	switch {
	case err == nil:
		more = true
	case errors.Is(err, sql.ErrNoRows):
		if last, err = q.LastPendingSearchRowid(ctx); err != nil || last == 0 {
			return false // nothing waits
		}
	default:
		return false
	}
	if err := q.IndexPendingBooks(ctx, last); err != nil {
		return false
	}
	if err := q.DeletePendingBooks(ctx, last); err != nil {
		return false
	}
	return tx.Commit() == nil && more
}

// commitBatch runs one transaction of writes and answers each of them. It
// reports whether it committed anything.
func (db *DB) commitBatch(batch []*pendingWrite) (committed bool) {
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	answer := func(commitErr error) {
		for i, w := range batch {
			r := results[i]
			if r.err == nil && r.panicked == nil {
				r.err = commitErr
			}
			w.done <- r
		}
	}
	db.wstmts.preparePending(ctx)
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		answer(err)
		return
	}
	q := sqlitedb.New(uncancelled{db.wstmts.inTx(tx)})
	// A batch of one needs no savepoint: the transaction is the write's.
	savepoints := len(batch) > 1
	kept := 0 // writes that succeeded, kept in the transaction
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			results[i].err = err // gave up before it ran
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
				tx.Rollback()
				answer(err)
				return
			}
		}
		results[i] = runWrite(w.fn, q)
		failed := results[i].err != nil || results[i].panicked != nil
		if failed && savepoints {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO write"); err != nil {
				// The statement's error ended the transaction itself
				// (disk full, I/O): the writes before it are gone too.
				tx.Rollback()
				answer(err)
				return
			}
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "RELEASE write"); err != nil {
				tx.Rollback()
				answer(err)
				return
			}
		}
		if !failed {
			kept++
		}
	}
	if kept == 0 {
		tx.Rollback()
		answer(nil) // every write has its own error
		return
	}
	err = tx.Commit()
	if err == nil {
		db.commits.Add(1)
		select {
		case db.committed <- struct{}{}:
		default: // told already
		}
	}
	answer(err)
	return err == nil
}

// writerCheckpointPages is the WAL size, in pages, at which the writer
// checkpoints at the end of a commit (SQLite's auto-checkpoint; its default
// is 1,000). By then runCheckpointer has copied nearly all of it, so the
// writer's checkpoint is short, and the WAL starts over from its beginning
// at the next write. Without that, a checkpoint beside a writer that never
// pauses would never catch up with it, and the WAL would grow for as long
// as the writes went on.
const writerCheckpointPages = 10000

// checkpointGap is the least time between two of runCheckpointer's
// checkpoints.
const checkpointGap = 10 * time.Millisecond

// runCheckpointer copies what the writer has committed to the WAL back into
// the database file, on a connection of its own, after each commit (at most
// one checkpoint per checkpointGap). A PASSIVE checkpoint waits for no one
// and no one waits for it; it syncs the WAL and the database file, which
// at SQLite's default auto-checkpoint took the writer ≈ 20 % of its time
// under a stream of creates, every queued write waiting. Measured with wrk
// (8 users, alternating runs): creates 7,235/s with the writer
// checkpointing every 1,000 pages, 8,200/s with this beside it; without
// any sync (synchronous=OFF, not durable) 9,800/s. Checkpointing without a
// gap, or every 50 ms, was slower (6,650 and 7,000/s): the checkpoints
// compete with the writer for the cores and the disk.
func (db *DB) runCheckpointer() {
	defer close(db.checkpointerDone)
	ctx := context.Background()
	for {
		select {
		case <-db.committed:
		case <-db.closing:
			return
		}
		// A failure (the database busy, I/O) is tried again after the next
		// commit; the writer's own checkpoint is there regardless.
		_, _ = db.checkpointer.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-time.After(checkpointGap):
		case <-db.closing:
			return
		}
	}
}

// runWrite calls fn, turning a panic into a result for its caller.
func runWrite(fn func(q *sqlitedb.Queries) error, q *sqlitedb.Queries) (r writeResult) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = p
		}
	}()
	r.err = fn(q)
	return r
}

// uncancelled runs a write's statements without its context's cancellation
// (see inTx); values such as deadlines for tracing still pass through.
type uncancelled struct{ tx sqlitedb.DBTX }

func (u uncancelled) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return u.tx.ExecContext(context.WithoutCancel(ctx), query, args...)
}

func (u uncancelled) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return u.tx.PrepareContext(context.WithoutCancel(ctx), query)
}

func (u uncancelled) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return u.tx.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (u uncancelled) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return u.tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

// Timestamps are stored as INTEGER unix milliseconds: toDB and toDBPtr
// (NULL for nil) write them, fromDB and fromDBPtr read them, as in the
// PostgreSQL adapter.

func toDB(t time.Time) int64 { return t.UnixMilli() }

func fromDB(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func toDBPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromDBPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromDB(n.Int64)
	return &t
}

// maxRows turns a page size into SQLite's LIMIT, where -1 means no limit.
func maxRows(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}
