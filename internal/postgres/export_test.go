package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Exports for the external tests in postgres_test: the pool, to run EXPLAIN
// and inspect settings, and the composed ListBooks statement, to inspect its
// plan.

func (db *DB) Pool() *pgxpool.Pool { return db.pool }

var ListBooksQuery = listBooksQuery
