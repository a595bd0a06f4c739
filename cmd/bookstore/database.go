package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/sqlite"
	"github.com/bookstore/bookstore/internal/tracing"
)

// store is a database of either engine that the program can migrate.
type store = app.Store

// openStore opens the database d names, without migrating it. SQLite opens
// (and creates) the file at once; PostgreSQL only checks the URL and
// connects on first use, so it may still be down. log, when set, hears of
// settings that do not apply to the engine.
func openStore(ctx context.Context, d Database, tp trace.TracerProvider, log *slog.Logger) (store, error) {
	if d.Engine == enginePostgres {
		var opts []postgres.Option
		if tp != nil {
			opts = append(opts, postgres.WithQueryTracer(tracing.NewQueryTracer(tp)))
		}
		if d.Pool.MaxConns > 0 {
			opts = append(opts, postgres.WithMaxConns(d.Pool.MaxConns))
		}
		if d.Pool.ConnectTimeout != nil {
			opts = append(opts, postgres.WithConnectTimeout(*d.Pool.ConnectTimeout))
		}
		if d.Pool.StatementTimeout != nil {
			opts = append(opts, postgres.WithStatementTimeout(*d.Pool.StatementTimeout))
		}
		db, err := postgres.Open(ctx, d.URL, opts...) // its errors mask the password
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	if log != nil && !d.Pool.isZero() {
		log.Warn("the BOOKSTORE_DB_* pool settings apply to PostgreSQL only; ignored")
	}
	if err := checkDatabaseLocation(d); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, d.Path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// openDatabase opens the database and applies pending migrations, for the
// subcommands: they fail at once when the database cannot be reached.
func openDatabase(ctx context.Context, d Database) (store, error) {
	db, err := openStore(ctx, d, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// undoNewSQLite is for commands that may create a SQLite database and then
// fail (copy, import-seed): called with the command's error, it removes
// the file (and its -wal and -shm) if the command created it and failed, so
// a failed run leaves nothing behind. A database that existed is left alone.
func undoNewSQLite(d Database) func(err error) {
	if d.Engine != engineSQLite {
		return func(error) {}
	}
	if _, err := os.Stat(d.Path); !errors.Is(err, os.ErrNotExist) {
		return func(error) {}
	}
	return func(err error) {
		if err == nil {
			return
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(d.Path + suffix)
		}
	}
}
