package postgres_test

import (
	"io/fs"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/bookstore/bookstore/internal/storetest"
	schema "github.com/bookstore/bookstore/sql"
)

// TestPostgresMigrateCredentialsKeepsData: the PostgreSQL twin of the
// SQLite test of the same name.
func TestPostgresMigrateCredentialsKeepsData(t *testing.T) {
	testURL(t)
	ctx := t.Context()
	_, dbURL := mustSchema(t)
	db := mustOpen(t, dbURL)
	migrations, err := fs.Sub(schema.PostgresMigrations, "postgres/migrations")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool())
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	userID, sessionID := uuid.New(), uuid.New()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	mustExec(t, dbURL, `INSERT INTO users (id, username, password_hash, admin, created_at) VALUES ($1, 'alice', 'h', false, $2)`, userID, created)
	mustExec(t, dbURL, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $3, $4)`,
		sessionID, userID, created, created.Add(time.Hour))
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedCredentials(t, db, userID, created)
}
