package sqlite

import "database/sql"

// Pools returns the database's two connection pools, for tools that work
// on every table at once (bookstore copy): writer is the single writing
// connection (BEGIN takes the write lock), reader the read-only pool (a
// transaction there reads one snapshot while writers carry on).
func (db *DB) Pools() (writer, reader *sql.DB) { return db.writer, db.reader }
