package postgres

import (
	"database/sql"

	"github.com/jackc/pgx/v5/stdlib"
)

// SQLDB returns a database/sql handle on the database's pool, for tools
// that work on every table at once (bookstore copy). Closing it leaves the
// pool open; Close closes that.
func (db *DB) SQLDB() *sql.DB { return stdlib.OpenDBFromPool(db.pool) }
