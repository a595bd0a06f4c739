package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/bookstore/bookstore/gen/sqlitedb"
)

// stmtCache prepares each query once per pool and reuses it. The driver
// would otherwise parse and plan the SQL on every call, which was a third
// of the CPU of listing books. database/sql keeps the prepared statement
// per connection and prepares it again on a connection that lacks it; the
// number of distinct queries is small and fixed (the sqlc queries and the
// few shapes of ListBooks), so the cache needs no eviction.
//
// Inside a transaction a miss cannot prepare on the pool: the writer's
// only connection is the transaction's. The query then runs unprepared and
// is noted, and preparePending prepares it before the next transaction.
type stmtCache struct {
	db      *sql.DB
	stmts   sync.Map // query string -> *sql.Stmt
	pending sync.Map // query string -> struct{}: missed inside a transaction
}

var _ sqlitedb.DBTX = (*stmtCache)(nil)

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.stmt(ctx, query)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		// A *sql.Row cannot carry an error of ours: let the pool report it.
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// preparePending prepares the queries that transactions missed. Call it
// while holding no connection of the pool.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.pending.Range(func(q, _ any) bool {
		c.pending.Delete(q)
		_, _ = c.stmt(ctx, q.(string)) // a failure leaves the query unprepared, no worse
		return true
	})
}

// cached returns the prepared statement of query, or notes the miss.
func (c *stmtCache) cached(query string) (*sql.Stmt, bool) {
	if s, ok := c.stmts.Load(query); ok {
		return s.(*sql.Stmt), true
	}
	c.pending.Store(query, struct{}{})
	return nil, false
}

// inTx runs the cached statements inside tx, on its connection.
func (c *stmtCache) inTx(tx *sql.Tx) *txStmts { return &txStmts{tx: tx, cache: c} }

// close closes every prepared statement.
func (c *stmtCache) close() {
	c.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
}

// txStmts is the DBTX of a transaction: Tx.StmtContext reuses the
// statement already prepared on the transaction's connection.
type txStmts struct {
	tx    *sql.Tx
	cache *stmtCache
}

var _ sqlitedb.DBTX = (*txStmts)(nil)

func (t *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s, ok := t.cache.cached(query); ok {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *txStmts) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := t.cache.cached(query); ok {
		return t.tx.StmtContext(ctx, s), nil
	}
	return t.tx.PrepareContext(ctx, query)
}

func (t *txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s, ok := t.cache.cached(query); ok {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s, ok := t.cache.cached(query); ok {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
