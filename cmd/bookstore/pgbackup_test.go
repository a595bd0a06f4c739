package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
)

// TestPostgresBackupRoundTrip backs up a PostgreSQL database as the README
// says (pg_dump -Fc of the schema), loses it, restores it with pg_restore,
// and checks a server on the restored schema: the old password logs in,
// the book is there, and the access and refresh tokens issued before the
// dump still work.
func TestPostgresBackupRoundTrip(t *testing.T) {
	base := pgtest.URL(t)
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	schema, dbURL := pgtest.Schema(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": dbURL}

	m, _ := NewTestMain(t, env)
	MustRunMain(t, m)
	c := newClient(t, m.Addr())
	if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.JSON201 == nil {
		t.Fatalf("register: %v", err)
	}
	tokens := login(t, c, "alice", goodPassword)
	book, err := c.CreateBookWithResponse(t.Context(), nil, oapi.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, bearer(tokens.AccessToken))
	if err != nil || book.JSON201 == nil {
		t.Fatalf("create: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	dump := filepath.Join(t.TempDir(), "bookstore.dump")
	pgTool(t, "pg_dump", "--format=custom", "--schema="+schema, "--file="+dump, "--dbname="+base)
	pgtest.MustExec(t, base, "DROP SCHEMA "+schema+" CASCADE")
	pgTool(t, "pg_restore", "--exit-on-error", "--dbname="+base, dump)

	m, _ = NewTestMain(t, env)
	MustRunMain(t, m)
	c = newClient(t, m.Addr())
	login(t, c, "alice", goodPassword)
	got, err := c.GetBookWithResponse(t.Context(), book.JSON201.Id, bearer(tokens.AccessToken))
	if err != nil || got.JSON200 == nil || got.JSON200.Title != "Dune" {
		t.Fatalf("the book after the restore, with the old access token: %v %v", err, got.Status())
	}
	refreshed, err := c.RefreshTokenWithResponse(t.Context(), oapi.RefreshRequest{RefreshToken: tokens.RefreshToken})
	if err != nil || refreshed.JSON200 == nil {
		t.Fatalf("refresh with the token from before the dump: %v %v", err, refreshed.Status())
	}
}

// pgTool runs a PostgreSQL client program and fails t with its output.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}
