package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Exports for the external tests in sqlite_test: the pools, to inspect
// pragmas, and the composed ListBooks statement, to inspect its plan.

func (db *DB) Writer() *sql.DB { return db.writer }
func (db *DB) Reader() *sql.DB { return db.reader }


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

// ListBooksQuery is the statement of a plan of ListBooks.
func ListBooksQuery(f bookstore.BookFilter, plan ListPlan) (string, []any, error) {
	return listBooksQuery(f, plan)
}

type ListPlan = listPlan

const (
	PlanDirect     = planDirect
	PlanWindow     = planWindow
	PlanWindowSize = planWindowSize
	PlanIndex      = planIndex
	SearchWindow   = searchWindow
)
