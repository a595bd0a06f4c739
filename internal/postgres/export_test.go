package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Exports for the external tests in postgres_test: the pool, to run EXPLAIN
// and inspect settings, and the composed ListBooks statement, to inspect its
// plan.

func (db *DB) Pool() *pgxpool.Pool { return db.pool }

var ListBooksQuery = listBooksQuery

// CountRows is storetest.RowCounter. table comes from the contract's code,
// never from input.
func (db *DB) CountRows(ctx context.Context, table string) (n int64, err error) {
	err = db.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}
