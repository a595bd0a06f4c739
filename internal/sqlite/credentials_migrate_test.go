package sqlite_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/storetest"
)

// TestMigrateCredentialsKeepsData: a database with users and sessions from
// before 00004 migrates; users start at credential version 0 (which their
// logins read) and sessions take their creation time as auth_time.
func TestMigrateCredentialsKeepsData(t *testing.T) {
	ctx := t.Context()
	db := mustOpenAtVersion(t, 3)
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
