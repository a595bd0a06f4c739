package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Exports for the external tests in sqlite_test: the pools, to inspect
// pragmas, and the composed ListBooks statement, to inspect its plan.

func (db *DB) Writer() *sql.DB { return db.writer }
func (db *DB) Reader() *sql.DB { return db.reader }

var ListBooksQuery = listBooksQuery

// CountRows is storetest.RowCounter. table comes from the contract's code,
// never from input.
func (db *DB) CountRows(ctx context.Context, table string) (n int64, err error) {
	err = db.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// Commits is the number of transactions the group-committing writer has
// committed.
func (db *DB) Commits() int64 { return db.commits.Load() }

// WithSearchIndexDelay sets how long books wait in books_search_pending
// before the writer indexes them (searchIndexDelay).
func WithSearchIndexDelay(d time.Duration) Option {
	return func(o *options) { o.indexDelay = d }
}

// IndexPending is one round of the writer's search indexing; it reports
// whether more books wait.
func (db *DB) IndexPending() bool { return db.indexPending() }

const MaxIndexRound = maxIndexRound

const WriterCheckpointPages = writerCheckpointPages
