package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/proctest"
)

// ackedBook is a book the server acknowledged (201), and whose token can
// read it.
type ackedBook struct {
	id    uuid.UUID
	token string
}

// writeBooks runs clients goroutines that create books as the users whose
// access tokens are given until stop is closed, released together. acked
// returns what the server has acknowledged so far.
func writeBooks(t *testing.T, addr string, tokens []string, stop <-chan struct{}) (acked func() []ackedBook, wait func()) {
	t.Helper()
	var (
		mu   sync.Mutex
		done []ackedBook
		wg   sync.WaitGroup
	)
	release := make(chan struct{})
	for i, token := range tokens {
		c := newClient(t, addr)
		wg.Go(func() {
			<-release
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.CreateBookWithResponse(context.Background(), nil, oapi.BookCreate{
					Title: fmt.Sprintf("Book %d of client %d", n, i), Author: "A. Writer", Publisher: "P", PriceCents: 100,
				}, bearer(token))
				if err != nil || res.JSON201 == nil {
					continue // e.g. the connection closed as the server stopped: not acknowledged
				}
				mu.Lock()
				done = append(done, ackedBook{id: res.JSON201.Id, token: token})
				mu.Unlock()
			}
		})
	}
	close(release)
	acked = func() []ackedBook {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(done)
	}
	return acked, wg.Wait
}

// registerUsers registers n users over the API and returns their access
// tokens.
func registerUsers(t *testing.T, addr string, n int) []string {
	t.Helper()
	c := newClient(t, addr)
	var tokens []string
	for i := range n {
		name := fmt.Sprintf("writer%d", i)
		res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: name, Password: goodPassword})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("register %s: %v %v", name, err, res.Status())
		}
		tokens = append(tokens, login(t, c, name, goodPassword).AccessToken)
	}
	return tokens
}

// TestBackupWhileWriting takes a backup of a running server's database
// while 4 clients create books, restores it as the README says (stop,
// remove -wal and -shm, replace the file, start) and checks the restored
// database: integrity_check passes and every book acknowledged before the
// backup began is there and readable by its owner's old token.
func TestBackupWhileWriting(t *testing.T) {
	if engine == pgtest.Postgres {
		t.Skip("SQLite only; it ran in the SQLite pass")
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "bookstore.db")
	backupPath := filepath.Join(dir, "backups", "bookstore-backup.db")
	if err := os.Mkdir(filepath.Dir(backupPath), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"BOOKSTORE_DATABASE_URL=" + dbPath, "BOOKSTORE_THROTTLE=off"}
	addr := proctest.FreeAddr(t)
	srv := proctest.Start(t, addr, env...)
	tokens := registerUsers(t, addr, 4)

	stop := make(chan struct{})
	acked, wait := writeBooks(t, addr, tokens, stop)
	waitAcked := func(n int) {
		t.Helper()
		if !waitFor(60*time.Second, func() bool { return len(acked()) >= n }) {
			close(stop)
			t.Fatalf("only %d books acknowledged; want %d", len(acked()), n)
		}
	}
	waitAcked(100)
	before := acked()
	status, stdout, stderr := runBinary(t, dir, env, "backup", backupPath)
	waitAcked(len(before) + 50) // writes go on after the backup
	close(stop)
	wait()
	if status != 0 {
		t.Fatalf("backup: exit %d\n%s%s", status, stdout, stderr)
	}
	for _, w := range []string{"Backed up sqlite:" + dbPath, "to " + backupPath, "integrity_check ok", "books"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("backup's output does not contain %q:\n%s", w, stdout)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(backupPath)); len(entries) != 1 {
		t.Errorf("the backup directory holds %d files, want the backup alone", len(entries))
	}

	// Restore.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("stop: %v\n%s", err, srv.Logs())
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, backupPath, dbPath)

	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of the restored database = %q, %v", check, err)
	}
	var restored int
	if err := db.QueryRow("SELECT count(*) FROM books").Scan(&restored); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if restored < len(before) {
		t.Errorf("the restored database holds %d books; %d were acknowledged before the backup", restored, len(before))
	}

	addr = proctest.FreeAddr(t)
	proctest.Start(t, addr, env...)
	for _, b := range before {
		res, err := http.NewRequest(http.MethodGet, "http://"+addr+"/books/"+b.id.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Header.Set("Authorization", "Bearer "+b.token)
		got, err := http.DefaultClient.Do(res)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, got.Body)
		got.Body.Close()
		if got.StatusCode != http.StatusOK {
			t.Errorf("GET /books/%s after the restore: %d; want 200 (acknowledged before the backup)", b.id, got.StatusCode)
		}
	}
	t.Logf("%d books acknowledged before the backup, %d in it", len(before), restored)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRefuses checks what backup says to an operator's mistakes.
func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no DEST", nil, nil, "want DEST"},
		{"no database", []string{"BOOKSTORE_DATABASE_URL=" + filepath.Join(dir, "none.db")}, []string{"b.db"}, "no database file"},
		{"DEST in a missing directory", nil, []string{filepath.Join(dir, "missing", "b.db")}, "does not exist"},
		{"PostgreSQL", []string{"BOOKSTORE_DATABASE_URL=postgres://u@127.0.0.1:1/db"}, []string{"b.db"}, "pg_dump"},
	}
	if status, _, stderr := runBinary(t, dir, nil, "migrate"); status != 0 {
		t.Fatalf("migrate: %d %s", status, stderr)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, stderr := runBinary(t, dir, tt.env, append([]string{"backup"}, tt.args...)...)
			if status != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", status, stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("backup created the missing database")
	}
}
