package sqlite_test

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/bookstore/bookstore/internal/sqlite"
	schema "github.com/bookstore/bookstore/sql"
)

// TestMigrationRecordsEarlierImports: accounts that import-seed brought in
// before migration 00005 (ids derived from the seed's, UUIDv5) are recorded
// as imported, so deleting one keeps it deleted; those still on their
// werkzeug hash are flagged for a password check, others are not.
func TestMigrationRecordsEarlierImports(t *testing.T) {
	ctx := t.Context()
	db := mustOpenAtVersion(t, 4)
	imported := uuid.NewSHA1(uuid.MustParse("6f1c3c52-3a0e-4f0a-9f7e-2b1d8c7a5e40"), []byte("user:1"))
	registered := uuid.Must(uuid.NewV7())
	for _, u := range []struct {
		id   uuid.UUID
		name string
		hash string
	}{
		{imported, "alice", "sha256$salt$00"},
		{registered, "bob", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZWhhc2g"},
	} {
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (?, ?, ?, 0, 0)`,
			u.id.String(), u.name, u.hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	alice, err := db.FindUserByID(ctx, imported)
	if err != nil || !alice.PasswordChangeRequired {
		t.Errorf("imported alice: %+v %v; want flagged", alice, err)
	}
	if bob, err := db.FindUserByID(ctx, registered); err != nil || bob.PasswordChangeRequired {
		t.Errorf("registered bob: %+v %v; want not flagged", bob, err)
	}
	if err := db.DeleteUser(ctx, imported); err != nil {
		t.Fatal(err)
	}
	alice.PasswordChangeRequired = true
	if created, err := db.ImportUser(ctx, alice, "flask-tutorial", imported.String(), alice.CreatedAt); err != nil || created {
		t.Errorf("re-import of the deleted alice = %v, %v; want nothing created", created, err)
	}
}

// mustOpenAtVersion opens a new database migrated up to version only, to
// put in the data an upgrade must carry over.
func mustOpenAtVersion(t *testing.T, version int64) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "bookstore.db"))
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
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return db
}
