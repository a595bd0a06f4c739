package faults_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the driver, to inspect and lock the file from outside

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

const password = "tangerine walrus under glass"

// client is the generated client logged in as a fresh user.
type client struct {
	*oapi.ClientWithResponses
	token string
}

func (c client) auth() oapi.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+c.token)
		return nil
	}
}

func newClient(t *testing.T, url, username string) client {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	c, err := oapi.NewClientWithResponses(url, oapi.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: username, Password: password}); err != nil || r.StatusCode() != 201 {
		t.Fatalf("register: %v", err)
	}
	return login(t, c, username)
}

func login(t *testing.T, c *oapi.ClientWithResponses, username string) client {
	t.Helper()
	r, err := c.LoginWithResponse(context.Background(), oapi.LoginRequest{Username: username, Password: password})
	if err != nil || r.JSON200 == nil {
		t.Fatalf("login: %v", err)
	}
	return client{c, r.JSON200.AccessToken}
}

func book(title string) oapi.BookCreate {
	return oapi.BookCreate{Title: title, Author: "Author", Publisher: "Publisher", PriceCents: 100}
}

// createUntil creates books from workers goroutines until stop is closed
// and returns the ids of every create that was acknowledged with a 201.
func createUntil(c client, workers int, stop <-chan struct{}) (acked []uuid.UUID, statuses map[int]int) {
	var mu sync.Mutex
	statuses = map[int]int{}
	var n atomic.Int64
	untilClosed(stop, workers, func(w int) {
		r, err := c.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, book(fmt.Sprintf("w%d-%d", w, n.Add(1))), c.auth())
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			statuses[0]++ // no answer: the connection broke
			return
		}
		statuses[r.StatusCode()]++
		if r.JSON201 != nil {
			acked = append(acked, r.JSON201.Id)
		}
	})
	return acked, statuses
}

func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity_check: %q %v", result, err)
	}
	var broken int
	if err := db.QueryRow(`SELECT count(*) FROM books WHERE title = '' OR author = '' OR publisher = ''
		OR owner_id NOT IN (SELECT id FROM users)`).Scan(&broken); err != nil || broken != 0 {
		t.Fatalf("%d half-written books (%v)", broken, err)
	}
}

// TestKill9UnderWrites kills the server while four clients create books as
// fast as they can: after a restart every acknowledged book is there and
// the database is whole.
func TestKill9UnderWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bookstore.db")
	addr := proctest.FreeAddr(t)
	env := []string{"BOOKSTORE_DATABASE_URL=" + path, "BOOKSTORE_THROTTLE=off"}
	srv := proctest.Start(t, addr, env...)
	c := newClient(t, srv.URL, "alice")

	stop := make(chan struct{})
	time.AfterFunc(1500*time.Millisecond, func() {
		srv.Kill(t)
		time.Sleep(200 * time.Millisecond) // let the clients see it
		close(stop)
	})
	acked, statuses := createUntil(c, 4, stop)
	if len(acked) < 50 {
		t.Fatalf("only %d creates acknowledged before the kill: %v", len(acked), statuses)
	}
	for status := range statuses {
		if status != 0 && status != 201 {
			t.Errorf("a create got %d before the kill: %v", status, statuses)
		}
	}
	integrityCheck(t, path)

	srv = proctest.Start(t, addr, env...)
	c = login(t, c.ClientWithResponses, "alice")
	for _, id := range acked {
		if r, err := c.GetBookWithResponse(context.Background(), id, c.auth()); err != nil || r.StatusCode() != 200 {
			t.Fatalf("acknowledged book %s is gone after the crash: %v %d", id, err, r.StatusCode())
		}
	}
	t.Logf("%d acknowledged creates survived kill -9 (%v)", len(acked), statuses)
}

// TestSIGTERMUnderLoad stops the server while clients write and read:
// every request that was answered got its normal status, the process exits
// 0, and every acknowledged write is there after a restart.
func TestSIGTERMUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bookstore.db")
	addr := proctest.FreeAddr(t)
	env := []string{"BOOKSTORE_DATABASE_URL=" + path, "BOOKSTORE_THROTTLE=off"}
	srv := proctest.Start(t, addr, env...)
	c := newClient(t, srv.URL, "alice")

	stop := make(chan struct{})
	var exitErr error
	time.AfterFunc(time.Second, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exitErr = srv.Stop(ctx)
		close(stop)
	})
	acked, statuses := createUntil(c, 4, stop)
	if exitErr != nil {
		t.Fatalf("the server did not exit 0: %v\n%s", exitErr, srv.Logs())
	}
	for status, n := range statuses {
		if status != 0 && status != 201 {
			t.Errorf("%d creates got %d during shutdown: %v", n, status, statuses)
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d creates acknowledged: %v", len(acked), statuses)
	}
	integrityCheck(t, path)
	srv = proctest.Start(t, addr, env...)
	c = login(t, c.ClientWithResponses, "alice")
	for _, id := range acked {
		if r, _ := c.GetBookWithResponse(context.Background(), id, c.auth()); r.StatusCode() != 200 {
			t.Fatalf("acknowledged book %s is gone after SIGTERM", id)
		}
	}
}

// TestWriteLockHeldElsewhere holds SQLite's write lock from another
// connection past the busy timeout: writes get 503 problem+json with
// Retry-After, reads keep working, and writes succeed once it is released.
func TestWriteLockHeldElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bookstore.db")
	srv := proctest.Start(t, proctest.FreeAddr(t), "BOOKSTORE_DATABASE_URL="+path, "BOOKSTORE_THROTTLE=off")
	c := newClient(t, srv.URL, "alice")

	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, book("Locked out"), c.auth())
	if err != nil || r.StatusCode() != 503 || r.HTTPResponse.Header.Get("Retry-After") == "" ||
		r.HTTPResponse.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("write under a held lock: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if r, _ := c.ListBooksWithResponse(context.Background(), &oapi.ListBooksParams{}, c.auth()); r.StatusCode() != 200 {
		t.Errorf("read under a held write lock: %d", r.StatusCode())
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, book("After"), c.auth()); r.StatusCode() != 201 {
		t.Fatalf("write after the lock was released: %d %s", r.StatusCode(), r.Body)
	}
}

// TestDiskFull puts the database on a small tmpfs and fills it: writes get
// 503, reads keep working, the server stays up, and writes work again once
// there is space. (A read-only remount is refused while the server holds
// the files open for writing, so the disk stands in for both.)
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "bookstore.db")
	srv := proctest.Start(t, proctest.FreeAddr(t), "BOOKSTORE_DATABASE_URL="+path, "BOOKSTORE_THROTTLE=off")
	c := newClient(t, srv.URL, "alice")
	ctx := context.Background()
	if r, _ := c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, book("Before"), c.auth()); r.StatusCode() != 201 {
		t.Fatalf("create: %d", r.StatusCode())
	}

	expect503 := func(what string) {
		t.Helper()
		// Enough writes to need new pages whatever the WAL had room for.
		var last *oapi.CreateBookResponse
		for i := range 200 {
			b := book(fmt.Sprintf("%s %d", what, i))
			b.Publisher = fmt.Sprintf("%0190d", i)
			r, err := c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, b, c.auth())
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			last = r
			if r.StatusCode() != 201 {
				break
			}
		}
		if last.StatusCode() != 503 || last.HTTPResponse.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: write got %d, want 503: %s", what, last.StatusCode(), last.Body)
		}
		if r, _ := c.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, c.auth()); r.StatusCode() != 200 {
			t.Errorf("%s: read got %d", what, r.StatusCode())
		}
	}
	expectWrites := func(what string) {
		t.Helper()
		var status int
		for range 50 { // a moment for SQLite to find the space again
			r, _ := c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, book(what), c.auth())
			if status = r.StatusCode(); status == 201 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: writes did not recover: %d\n%s", what, status, srv.Logs())
	}

	filler := filepath.Join(dir, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	expect503("disk full")
	os.Remove(filler)
	expectWrites("space again")

	if err := srv.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("stop: %v", err)
	}
}
