package sqlite

import (
	"context"
	"database/sql"
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
