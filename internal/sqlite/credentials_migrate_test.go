package sqlite_test

import (
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/bookstore/bookstore/internal/sqlite"
	"github.com/bookstore/bookstore/internal/storetest"
	schema "github.com/bookstore/bookstore/sql"
)

// TestMigrateCredentialsKeepsData: a database with users and sessions from
// before 00004 migrates; users start at credential version 0 (which their
// logins read) and sessions take their creation time as auth_time.
func TestMigrateCredentialsKeepsData(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrations, err := fs.Sub(schema.SQLiteMigrations, "sqlite/migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.Writer(), migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	userID, sessionID := uuid.New(), uuid.New()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (?, 'alice', 'h', 0, ?)`,
		userID.String(), created.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sessionID.String(), userID.String(), created.UnixMilli(), created.UnixMilli(), created.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedCredentials(t, db, userID, created)
}
