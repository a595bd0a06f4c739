package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/proctest"
)

// copyFixture is what a server wrote before a copy, to be checked after.
type copyFixture struct {
	users  []string          // usernames; all have goodPassword
	tokens []oapi.TokenPair  // one per user, issued before the copy
	books  map[int]uuid.UUID // user index → a book of theirs
	idem   map[int]string    // user index → the Idempotency-Key that created it
}

// writeCopyFixture runs the real server on a new SQLite file and writes to
// every table through the API: users (one admin from the environment),
// sessions and refresh tokens (one spent by a refresh), books with
// idempotency keys, failed logins for the throttle; the server itself
// writes the signing key and the cursor key.
func writeCopyFixture(t *testing.T, dbPath string) copyFixture {
	t.Helper()
	addr := proctest.FreeAddr(t)
	srv := proctest.Start(t, addr, "BOOKSTORE_DATABASE_URL="+dbPath,
		"BOOKSTORE_ADMIN_USERNAME=root", "BOOKSTORE_ADMIN_PASSWORD="+goodPassword)
	c := newClient(t, addr)
	ctx := t.Context()
	fx := copyFixture{users: []string{"root", "alice", "bob"}, books: map[int]uuid.UUID{}, idem: map[int]string{}}
	for i, name := range fx.users {
		if i > 0 {
			if res, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: name, Password: goodPassword}); err != nil || res.JSON201 == nil {
				t.Fatalf("register %s: %v", name, err)
			}
		}
		first := login(t, c, name, goodPassword)
		refreshed, err := c.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: first.RefreshToken})
		if err != nil || refreshed.JSON200 == nil {
			t.Fatalf("refresh: %v", err)
		}
		tokens := *refreshed.JSON200
		fx.tokens = append(fx.tokens, tokens)
		key := fmt.Sprintf("create-%s-1", name)
		book, err := c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, oapi.BookCreate{
			Title: "Book of " + name, Author: "Ünïcode Äuthor", Publisher: "P", PriceCents: oapi.PriceCents(100 + i),
		}, bearer(tokens.AccessToken))
		if err != nil || book.JSON201 == nil {
			t.Fatalf("create: %v", err)
		}
		fx.books[i], fx.idem[i] = book.JSON201.Id, key
	}
	if res, err := c.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: "not the password at all"}); err != nil || res.StatusCode() != 401 {
		t.Fatalf("wrong password: %v", err)
	}
	ctx2, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx2); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// An imported account (the seed's carol; its alice and bob clash with
	// the users above), so imported_accounts has a row to copy.
	var out, errOut strings.Builder
	if code := run(ctx, []string{"import-seed", mustWriteTutorialDB(t)}, strings.NewReader(""), &out, &errOut,
		envFunc(map[string]string{"BOOKSTORE_DATABASE_URL": dbPath})); code != 0 || !strings.Contains(out.String(), "users: 1 imported") {
		t.Fatalf("import-seed: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	return fx
}

// checkCopiedServer starts the real server on database and checks that
// what the fixture wrote works there: every user logs in with the old
// password, the access and refresh tokens issued before the copy are
// accepted, and a retried create with the old Idempotency-Key returns the
// book it made.
func checkCopiedServer(t *testing.T, database string, fx copyFixture) {
	t.Helper()
	addr := proctest.FreeAddr(t)
	srv := proctest.Start(t, addr, "BOOKSTORE_DATABASE_URL="+database)
	// With PostgreSQL the API answers once the database is migrated.
	if !waitFor(20*time.Second, func() bool { status, _, _ := get(t, srv.URL+"/readyz"); return status == 200 }) {
		t.Fatalf("not ready within 20 s\n%s", srv.Logs())
	}
	c := newClient(t, addr)
	ctx := t.Context()
	for i, name := range fx.users {
		login(t, c, name, goodPassword)
		got, err := c.GetBookWithResponse(ctx, fx.books[i], bearer(fx.tokens[i].AccessToken))
		if err != nil || got.JSON200 == nil || got.JSON200.Author != "Ünïcode Äuthor" {
			t.Errorf("%s: the book with the access token from before the copy: %v %s", name, err, got.Status())
		}
		// The copy's search index (SQLite's books_search is filled by
		// triggers, PostgreSQL's trigram indexes by the database) finds it.
		q := "OOK OF " + strings.ToUpper(name)
		found, err := c.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Q: &q}, bearer(fx.tokens[i].AccessToken))
		if err != nil || found.JSON200 == nil || len(found.JSON200.Items) != 1 || found.JSON200.Items[0].Id != fx.books[i] {
			t.Errorf("%s: q=%q after the copy: %v %s %s", name, q, err, found.Status(), found.Body)
		}
		key := fx.idem[i]
		again, err := c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, oapi.BookCreate{
			Title: "Book of " + name, Author: "Ünïcode Äuthor", Publisher: "P", PriceCents: oapi.PriceCents(100 + i),
		}, bearer(fx.tokens[i].AccessToken))
		if err != nil || again.JSON201 == nil || again.JSON201.Id != fx.books[i] {
			t.Errorf("%s: a retried create with the old Idempotency-Key: %v %s %s", name, err, again.Status(), again.Body)
		}
		refreshed, err := c.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: fx.tokens[i].RefreshToken})
		if err != nil || refreshed.JSON200 == nil {
			t.Errorf("%s: refresh with the token from before the copy: %v %s", name, err, refreshed.Status())
		}
	}
}

// sqliteTables lists the tables of the migrated schema in a SQLite file,
// from its catalogue: what a copy must carry.
func sqliteTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	// Ordinary tables: not the search index (a virtual table) nor its
	// shadow tables, whose contents depend on rowids and on the order rows
	// arrived, nor its queue of books still to index (books_search_pending,
	// which holds what the writer has not indexed yet: it depends on when
	// the last round ran); checkCopiedServer searches the copies instead.
	rows, err := db.Query(`SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite%' AND name <> 'goose_db_version' AND name <> 'books_search_pending' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

// TestPostgresCopyRoundTrip copies a SQLite database that has rows in
// every table of the migrated schema to PostgreSQL with the real binary,
// and from there into a new SQLite file. Every table of the schema must
// come back row for row (compared with SQL, not with the copy's own
// checksum), and servers on both copies must accept the old passwords,
// tokens and idempotency keys. A migration that adds a table without rows
// in the fixture fails here until the fixture writes some.
func TestPostgresCopyRoundTrip(t *testing.T) {
	_, pgURL := pgtest.Schema(t)
	dir := t.TempDir()
	original, back := filepath.Join(dir, "original.db"), filepath.Join(dir, "back.db")
	fx := writeCopyFixture(t, original)

	status, stdout, stderr := runBinary(t, dir, []string{"BOOKSTORE_COPY_TO=" + pgURL}, "copy", "--from", original, "--to", "env:BOOKSTORE_COPY_TO")
	if status != 0 {
		t.Fatalf("copy to PostgreSQL: exit %d\n%s%s", status, stdout, stderr)
	}
	if !strings.Contains(stdout, "Verified") {
		t.Errorf("copy's output does not report the verification:\n%s", stdout)
	}
	status, stdout, stderr = runBinary(t, dir, []string{"BOOKSTORE_COPY_FROM=" + pgURL}, "copy", "--from", "env:BOOKSTORE_COPY_FROM", "--to", back)
	if status != 0 {
		t.Fatalf("copy back to SQLite: exit %d\n%s%s", status, stdout, stderr)
	}

	db, err := sql.Open("sqlite", "file:"+original+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // ATTACH is per connection
	if _, err := db.Exec("ATTACH DATABASE ? AS back", "file:"+back+"?mode=ro"); err != nil {
		t.Fatal(err)
	}
	tables := sqliteTables(t, db)
	if len(tables) < 8 {
		t.Fatalf("only %d tables in the migrated schema: %v", len(tables), tables)
	}
	for _, table := range tables {
		var rows, missing, extra int
		q := `"` + table + `"`
		if err := db.QueryRow("SELECT count(*) FROM main." + q).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			t.Errorf("table %s has no rows in the fixture: make writeCopyFixture write some, so the copy of this table is tested", table)
		}
		if err := db.QueryRow("SELECT count(*) FROM (SELECT * FROM main." + q + " EXCEPT SELECT * FROM back." + q + ")").Scan(&missing); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if err := db.QueryRow("SELECT count(*) FROM (SELECT * FROM back." + q + " EXCEPT SELECT * FROM main." + q + ")").Scan(&extra); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if missing != 0 || extra != 0 {
			t.Errorf("table %s: %d rows did not come back from PostgreSQL unchanged, %d rows differ in the copy", table, missing, extra)
		}
	}

	checkCopiedServer(t, pgURL, fx)
	checkCopiedServer(t, back, fx)
}

// TestPostgresCopyRefuses checks that copy refuses a target that is not
// empty, and that a failed copy into a new SQLite file leaves no file.
func TestPostgresCopyRefuses(t *testing.T) {
	_, pgURL := pgtest.Schema(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.db")
	// keys rotate migrates the new file and stores a signing key.
	if status, _, stderr := runBinary(t, dir, []string{"BOOKSTORE_DATABASE_URL=" + full}, "keys", "rotate"); status != 0 {
		t.Fatalf("keys rotate: %s", stderr)
	}
	env := []string{"BOOKSTORE_COPY_PG=" + pgURL}
	if status, stdout, stderr := runBinary(t, dir, env, "copy", "--from", full, "--to", "env:BOOKSTORE_COPY_PG"); status != 0 {
		t.Fatalf("first copy: exit %d\n%s%s", status, stdout, stderr)
	}
	status, _, stderr := runBinary(t, dir, env, "copy", "--from", full, "--to", "env:BOOKSTORE_COPY_PG")
	if status == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("copy into a non-empty target: exit %d, stderr %q; want a failure saying it is not empty", status, stderr)
	}
	// Back into a file that exists and holds rows: refused, and left alone.
	status, _, stderr = runBinary(t, dir, env, "copy", "--from", "env:BOOKSTORE_COPY_PG", "--to", full)
	if status == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("copy into a non-empty SQLite file: exit %d, stderr %q", status, stderr)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"same engine", []string{"--from", full, "--to", filepath.Join(dir, "other.db")}, "both sqlite"},
		{"no --to", []string{"--from", full}, "--to is required"},
		{"missing source", []string{"--from", filepath.Join(dir, "none.db"), "--to", "env:BOOKSTORE_COPY_PG"}, "no database file"},
		{"unset variable", []string{"--from", full, "--to", "env:NOT_SET"}, "not set"},
	} {
		status, _, stderr := runBinary(t, dir, env, append([]string{"copy"}, tt.args...)...)
		if status != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tt.name, status, stderr, tt.want)
		}
	}

	// A source whose schema is not this version's: refused before a row
	// moves, and the new target file is removed again.
	_, odd := pgtest.Schema(t)
	if status, _, stderr := runBinary(t, dir, []string{"BOOKSTORE_DATABASE_URL=" + odd}, "migrate"); status != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	pgtest.MustExec(t, odd, "CREATE TABLE notes (body text)")
	fresh := filepath.Join(dir, "fresh.db")
	status, _, stderr = runBinary(t, dir, []string{"BOOKSTORE_COPY_PG=" + odd}, "copy", "--from", "env:BOOKSTORE_COPY_PG", "--to", fresh)
	if status == 0 || !strings.Contains(stderr, "table notes is only in the PostgreSQL database") {
		t.Errorf("copy from a different schema: exit %d, stderr %q", status, stderr)
	}
	if entries, _ := filepath.Glob(fresh + "*"); len(entries) > 0 {
		t.Errorf("the failed copy left %v", entries)
	}
}
