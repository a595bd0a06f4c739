package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/seedimport"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// seedPassword is the password of the fixture's users; their hashes are
// werkzeug's, computed with Python's hashlib and hmac as werkzeug does.
const seedPassword = "tangerine walrus under glass"

// mustWriteTutorialDB writes a bookstore.db in the Flask tutorial's schema:
// one user per werkzeug hash format, one with a clashing name, and books.
func mustWriteTutorialDB(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "flask-bookstore.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		seedimport.TutorialSchema,
		`INSERT INTO users VALUES (1, '0b1f0d0e-8f8a-4c43-9f5e-2f7d0a1b2c3d', 'alice',
			'sha256$Xq3vB9aZ$6f140a1e3bd80796b370078f33a9aa9ae7e9da31c01e26cead31b4be578bca97', 0)`,
		`INSERT INTO users VALUES (2, '2c5e7a10-1b2c-4d3e-8f90-a1b2c3d4e5f6', 'bob',
			'pbkdf2:sha256:1000$OnmBW4Y8cUHfrDg2$ef214c7b3a990387a5329752445f6ea7ce41eb3a7e6d3b177620860a7190d607', 1)`,
		`INSERT INTO users VALUES (3, '3d6f8b21-2c3d-4e4f-9a01-b2c3d4e5f607', 'carol',
			'scrypt:16:8:1$TvqUilznpmYjn49g$8a8470caf79474b279c731a2144b0f8d15d2629d8cf43a95c489cf8cf2e507f5c2826a889c16bdd5eef976dce43397c5063f09e4072b6f30e24cc26a86400ec7', 0)`,
		`INSERT INTO users VALUES (4, '4e7a9c32-3d4e-4f50-8b12-c3d4e5f60718', 'ALICE',
			'sha256$Xq3vB9aZ$6f140a1e3bd80796b370078f33a9aa9ae7e9da31c01e26cead31b4be578bca97', 0)`,
		`INSERT INTO books VALUES (1, 1, 'The Hobbit', 'J. R. R. Tolkien', 'George Allen & Unwin', 13)`,
		`INSERT INTO books VALUES (2, 3, 'Dune', 'Frank Herbert', 'Chilton', NULL)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

func TestImportSeedCommand(t *testing.T) {
	seed := mustWriteTutorialDB(t)
	dbPath := filepath.Join(t.TempDir(), "bookstore.db")
	env := map[string]string{"BOOKSTORE_DATABASE_URL": dbPath}
	importSeed := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"import-seed", seed}, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] }); code != 0 {
			t.Fatalf("import-seed: exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	out := importSeed()
	for _, want := range []string{
		"users: 3 imported (admins: 0), 0 already imported, 1 skipped",
		"1 of the seed's admins imported as regular users (--import-admins keeps them admins)",
		"books: 1 imported, 0 already imported, 1 skipped",
		`user #4 "ALICE": the name clashes with user #1 "alice"`,
		`book #2 "Dune": book_prize is missing`,
		"whole currency units",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	if out := importSeed(); !strings.Contains(out, "users: 0 imported (admins: 0), 3 already imported, 1 skipped") ||
		!strings.Contains(out, "books: 0 imported, 1 already imported, 1 skipped") {
		t.Errorf("the second run imported again:\n%s", out)
	}

	// The server over the imported database: seed users log in with their
	// old passwords, and are rehashed with argon2id.
	m, _ := NewTestMain(t, env)
	MustRunMain(t, m)
	c := newClient(t, m.Addr())
	for _, name := range []string{"alice", "bob", "carol"} {
		pair := login(t, c, name, seedPassword)
		if name != "alice" {
			continue
		}
		res, err := c.ListBooksWithResponse(t.Context(), &oapi.ListBooksParams{}, bearer(pair.AccessToken))
		if err != nil || res.JSON200 == nil || len(res.JSON200.Items) != 1 {
			t.Fatalf("alice's books: %v %s", err, res.Body)
		}
		if b := res.JSON200.Items[0]; b.Title != "The Hobbit" || b.PriceCents != 1300 {
			t.Errorf("The Hobbit: %+v", b)
		}
	}
	db, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := db.FindUserByUsername(t.Context(), name)
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("%s is not rehashed: %v %q", name, err, u.PasswordHash)
		}
	}
	if res, _ := c.LoginWithResponse(t.Context(), oapi.LoginRequest{Username: "alice", Password: "not the password at all"}); res.StatusCode() != 401 {
		t.Errorf("a wrong password: %d", res.StatusCode())
	}
}

func TestImportSeedUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	getenv := func(string) string { return "" }
	if code := run(context.Background(), []string{"import-seed"}, nil, &stdout, &stderr, getenv); code != 2 || !strings.Contains(stderr.String(), "PATH") {
		t.Errorf("no PATH: exit %d, %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"import-seed", "--help"}, nil, &stdout, &stderr, getenv); code != 0 || !strings.Contains(stdout.String(), "--prize-unit") {
		t.Errorf("--help: exit %d, %s", code, stdout.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"import-seed", "--prize-unit=euros", "x.db"}, nil, &stdout, &stderr, getenv); code != 2 {
		t.Errorf("--prize-unit=euros: exit %d, %s", code, stderr.String())
	}
}

// TestImportSeedFailureLeavesNoDatabase runs failing imports with the real
// binary: a seed that is missing, and one that is not the tutorial's
// database. Neither may leave a new target database behind.
func TestImportSeedFailureLeavesNoDatabase(t *testing.T) {
	dir := t.TempDir()
	notASeed := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notASeed, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "bookstore.db")
	env := []string{"BOOKSTORE_DATABASE_URL=" + target}
	status, _, stderr := runBinary(t, dir, env, "import-seed", filepath.Join(dir, "bookstore.db-from-flask"))
	if status != 2 || !strings.Contains(stderr, "instance/bookstore.db") {
		t.Errorf("a missing seed: exit %d, %s; want 2 and a hint at instance/bookstore.db", status, stderr)
	}
	status, _, stderr = runBinary(t, dir, env, "import-seed", notASeed)
	if status != 1 || !strings.Contains(stderr, "import-seed") {
		t.Errorf("a file that is no seed: exit %d, %s; want 1", status, stderr)
	}
	if left, _ := filepath.Glob(target + "*"); len(left) > 0 {
		t.Errorf("the failed imports left %v", left)
	}
}
