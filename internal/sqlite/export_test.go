package sqlite

import "database/sql"

// Exports for the external tests in sqlite_test: the pools, to inspect
// pragmas, and the composed ListBooks statement, to inspect its plan.

func (db *DB) Writer() *sql.DB { return db.writer }
func (db *DB) Reader() *sql.DB { return db.reader }

var ListBooksQuery = listBooksQuery
