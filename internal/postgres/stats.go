package postgres

import "database/sql"

// PoolStats reports the connection pool as "pool", in database/sql's terms
// so metrics treat every adapter alike: waits are acquisitions that found
// no idle connection.
func (db *DB) PoolStats() map[string]sql.DBStats {
	s := db.pool.Stat()
	return map[string]sql.DBStats{"pool": {
		MaxOpenConnections: int(s.MaxConns()),
		OpenConnections:    int(s.TotalConns()),
		InUse:              int(s.AcquiredConns()),
		Idle:               int(s.IdleConns()),
		WaitCount:          s.EmptyAcquireCount(),
		WaitDuration:       s.EmptyAcquireWaitTime(),
		MaxIdleTimeClosed:  s.MaxIdleDestroyCount(),
		MaxLifetimeClosed:  s.MaxLifetimeDestroyCount(),
	}}
}
