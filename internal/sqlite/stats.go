package sqlite

import "database/sql"

// PoolStats reports the connection pools, by name: "writer" (one
// connection) and "reader". Metrics export them.
func (db *DB) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": db.writer.Stats(), "reader": db.reader.Stats()}
}
