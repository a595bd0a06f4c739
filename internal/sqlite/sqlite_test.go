package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/sqlite"
	"github.com/bookstore/bookstore/internal/storetest"
)

// mustOpen opens and migrates a new database file in t.TempDir().
func mustOpen(t testing.TB, opts ...sqlite.Option) (*sqlite.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bookstore.db")
	db, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db, path
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) bookstore.Store {
		db, _ := mustOpen(t)
		return db
	})
}

func TestThrottleStore(t *testing.T) {
	storetest.RunThrottle(t, func(t *testing.T) bookstore.ThrottleStore {
		db, _ := mustOpen(t)
		return db
	})
}

func TestPragmasOnEveryConnection(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	pools := []struct {
		name  string
		pool  *sql.DB
		conns int
		want  map[string]string
	}{
		{"writer", db.Writer(), 1, map[string]string{
			"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "1",
		}},
		{"reader", db.Reader(), 4, map[string]string{
			"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000",
		}},
	}
	for _, p := range pools {
		// Hold every connection of the pool at once, so each is a
		// distinct connection that ran the DSN's pragmas itself.
		var conns []*sql.Conn
		for range p.conns {
			c, err := p.pool.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn: %v", p.name, err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i, c := range conns {
			for pragma, want := range p.want {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("%s conn %d: PRAGMA %s: %v", p.name, i, pragma, err)
				}
				if got != want {
					t.Errorf("%s conn %d: %s = %s, want %s", p.name, i, pragma, got, want)
				}
			}
		}
	}
}

func TestReaderIsReadOnly(t *testing.T) {
	db, _ := mustOpen(t)
	_, err := db.Reader().ExecContext(t.Context(),
		"INSERT INTO server_secrets (name, value, created_at) VALUES ('x', x'00', 0)")
	if err == nil {
		t.Fatal("the reader pool accepted a write")
	}
}

func TestBusyIsUnavailable(t *testing.T) {
	db, path := mustOpen(t, sqlite.WithBusyTimeout(100*time.Millisecond))
	ctx := t.Context()

	// Another process (here: another pool) holds the write lock.
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatalf("open second connection: %v", err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}
	defer tx.Rollback()

	u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	start := time.Now()
	err = db.CreateUser(ctx, u)
	if !errors.Is(err, bookstore.ErrUnavailable) {
		t.Fatalf("CreateUser under a held lock: err = %v, want ErrUnavailable", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("gave up after %v, before busy_timeout", waited)
	}
	if de, ok := errors.AsType[*bookstore.Error](err); !ok || strings.Contains(de.Message, "lock") {
		t.Errorf("err = %v: want a *bookstore.Error whose message has no driver text", err)
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Errorf("Error() = %q: want the driver's cause for the logs", err)
	}

	// Reads go on under the writer's lock (WAL).
	if _, err := db.FindUserByUsername(ctx, "alice"); !errors.Is(err, bookstore.ErrNotFound) {
		t.Errorf("read under a held write lock: %v", err)
	}

	if err := tx.Rollback(); err != nil {
		t.Fatalf("ROLLBACK: %v", err)
	}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser after the lock is gone: %v", err)
	}
}

func TestConflictMessages(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	u.ID = uuid.New()
	u.Username = "ALICE"
	err := db.CreateUser(ctx, u)
	de, ok := errors.AsType[*bookstore.Error](err)
	if !ok || de.Kind != bookstore.ErrConflict || de.Message != "username is taken" {
		t.Fatalf("err = %#v, want ErrConflict %q", err, "username is taken")
	}
	if !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("Error() = %q: want the driver's cause for the logs", err)
	}
}

// The per-owner listings must be index range scans in the order asked for:
// no sort step, whichever direction and with or without a keyset position.
func TestListBooksQueryPlan(t *testing.T) {
	db, _ := mustOpen(t)
	owner := uuid.New()
	for _, sort := range bookstore.BookSorts {
		column := strings.TrimPrefix(string(sort), "-")
		after := &bookstore.Book{ID: uuid.New(), Title: "m", PriceCents: 5, CreatedAt: time.Now()}
		ownerIndex, allIndex := "books_owner_"+strings.TrimSuffix(column, "_cents"), "books_"+strings.TrimSuffix(column, "_cents")
		tests := []struct {
			name      string
			filter    bookstore.BookFilter
			plan      sqlite.ListPlan
			wantIndex string
		}{
			{"owner", bookstore.BookFilter{OwnerID: &owner}, sqlite.PlanDirect, ownerIndex},
			{"owner after", bookstore.BookFilter{OwnerID: &owner, After: after}, sqlite.PlanDirect, ownerIndex},
			{"owner query", bookstore.BookFilter{OwnerID: &owner, Query: "x", After: after}, sqlite.PlanDirect, ownerIndex},
			{"all owners", bookstore.BookFilter{}, sqlite.PlanDirect, allIndex},
			{"all owners after", bookstore.BookFilter{After: after}, sqlite.PlanDirect, allIndex},
			// A search's window is the same walk, cut at searchWindow books.
			{"owner search window", bookstore.BookFilter{OwnerID: &owner, Query: "hobbit", After: after}, sqlite.PlanWindow, ownerIndex},
			{"owner search window size", bookstore.BookFilter{OwnerID: &owner, Query: "hobbit", After: after}, sqlite.PlanWindowSize, ownerIndex},
			{"all owners search window", bookstore.BookFilter{Query: "hobbit"}, sqlite.PlanWindow, allIndex},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s", sort, tc.name), func(t *testing.T) {
				f := tc.filter
				f.Sort, f.Limit = sort, 20
				query, args, err := sqlite.ListBooksQuery(f, tc.plan)
				if err != nil {
					t.Fatalf("ListBooksQuery: %v", err)
				}
				plan := explain(t, db.Reader(), query, args)
				if strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("plan sorts:\n%s\nquery: %s", plan, query)
				}
				if !regexp.MustCompile(`INDEX ` + tc.wantIndex + `\b`).MatchString(plan) {
					t.Errorf("plan does not use %s:\n%s\nquery: %s", tc.wantIndex, plan, query)
				}
			})
		}
	}
}

func explain(t *testing.T, db *sql.DB, query string, args []any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatalf("scan plan: %v", err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("plan: %v", err)
	}
	return strings.Join(lines, "\n")
}

func TestOpen(t *testing.T) {
	t.Run("MissingDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "bookstore.db")
		db, err := sqlite.Open(t.Context(), path)
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded in a directory that does not exist")
		}
		if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("err = %v: want it to say the directory does not exist", err)
		}
		if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
			t.Errorf("Open created the directory")
		}
	})

	t.Run("PathNeedsEscaping", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "bookstore.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database not at %q: %v", path, err)
		}
	})

	t.Run("NoImplicitMigration", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bookstore.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		if _, err := db.FindUserByID(t.Context(), uuid.New()); err == nil || errors.Is(err, bookstore.ErrNotFound) {
			t.Fatalf("query before Migrate: err = %v, want no such table", err)
		}
	})

	t.Run("ReopenAndMigrateAgain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bookstore.db")
		u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.UnixMilli(1_700_000_000_000).UTC()}
		for i := range 2 {
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open %d: %v", i, err)
			}
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate %d: %v", i, err)
			}
			if i == 0 {
				if err := db.CreateUser(t.Context(), u); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
			} else if got, err := db.FindUserByID(t.Context(), u.ID); err != nil || got.Username != "alice" {
				t.Fatalf("after reopening: %+v, %v", got, err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Close checkpoints: the database file alone is complete.
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
				t.Errorf("WAL left with %d bytes after Close", fi.Size())
			}
		}
	})
}

func TestPing(t *testing.T) {
	db, _ := mustOpen(t)
	ctx, cancel := context.WithCancel(t.Context())
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping with a cancelled context succeeded")
	}
}

// A q of 3 characters or more is answered from the trigram index and the
// books not indexed yet: they are the outer loop (so a q that matches nothing
// reads nothing but the few pending books), never a walk of the owner's
// books.
func TestListBooksSearchPlan(t *testing.T) {
	db, _ := mustOpen(t)
	owner := uuid.New()
	after := &bookstore.Book{ID: uuid.New(), Title: "m"}
	for _, f := range []bookstore.BookFilter{
		{OwnerID: &owner, Query: "hob"},
		{OwnerID: &owner, Query: "hobbit", After: after},
		{Query: "hobbit", Sort: bookstore.SortCreatedAtDesc},
	} {
		query, args, err := sqlite.ListBooksQuery(f, sqlite.PlanIndex)
		if err != nil {
			t.Fatalf("ListBooksQuery: %v", err)
		}
		plan := explain(t, db.Reader(), query, args)
		// Two loops, merged: the index's hits and the books waiting for
		// it, each probing books by rowid; never a walk of books.
		if !strings.Contains(plan, "SCAN books_search VIRTUAL TABLE") || !strings.Contains(plan, "SCAN books_search_pending") ||
			!strings.Contains(plan, "SEARCH books USING INTEGER PRIMARY KEY (rowid=?)") ||
			regexp.MustCompile(`(?m)^\s*SCAN books$`).MatchString(plan) || strings.Contains(plan, "books_owner_") {
			t.Errorf("q=%q: plan does not start from books_search and books_search_pending:\n%s\nquery: %s", f.Query, plan, query)
		}
	}
}

// The search index of 00006_books_search.sql covers the books that existed
// before it: a database at the previous version, with books, migrates and
// finds them through the index.
func TestSearchMigratesExistingBooks(t *testing.T) {
	db := mustOpenAtVersion(t, 5)
	owner := uuid.New()
	for _, stmt := range []string{
		`INSERT INTO users (id, username, password_hash, created_at) VALUES ('` + owner.String() + `', 'alice', 'h', 0)`,
		`INSERT INTO books (id, owner_id, title, author, publisher, price_cents, created_at, updated_at)
		 VALUES ('` + uuid.NewString() + `', '` + owner.String() + `', 'The Hobbit', 'J. R. R. Tolkien', 'P', 1, 0, 0),
		        ('` + uuid.NewString() + `', '` + owner.String() + `', 'Dune', 'Frank Herbert', 'P', 1, 0, 0)`,
	} {
		if _, err := db.Writer().ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for q, want := range map[string]string{"HOBBIT": "The Hobbit", "herbert": "Dune"} {
		got, err := db.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &owner, Query: q, Limit: 10})
		if err != nil || len(got) != 1 || got[0].Title != want {
			t.Errorf("q=%q: got %v, %v; want %q", q, got, err, want)
		}
	}
}

// TestGroupCommit releases many writes at once behind a barrier: creates,
// creates that break the ISBN rule, updates whose change fails and one that
// panics. The writer batches them (fewer commits than writes), and each
// write's outcome is its own: every acknowledged create is stored, every
// failed write left nothing, a panic reaches only its caller.
func TestGroupCommit(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	owner := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	newBook := func(title string, isbn *string) bookstore.Book {
		now := time.Now().UTC().Truncate(time.Millisecond)
		return bookstore.Book{ID: uuid.New(), OwnerID: owner.ID, Title: title, Author: "A", Publisher: "P",
			PriceCents: 1, ISBN: isbn, Version: 1, CreatedAt: now, UpdatedAt: now}
	}
	taken := "9780000000002"
	target, err := db.CreateBook(ctx, newBook("target", &taken), nil)
	if err != nil {
		t.Fatal(err)
	}
	// An expired idempotency key: a create with a key first deletes
	// expired keys, so each failing create below writes before it fails,
	// and only its savepoint's rollback brings the key back.
	if _, err := db.Writer().ExecContext(ctx, "INSERT INTO idempotency_keys (owner_id, key, fingerprint, book_id, created_at) VALUES (?, 'old', x'00', ?, 0)",
		owner.ID.String(), uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	before := db.Commits()

	const n = 120
	start := make(chan struct{})
	var wg sync.WaitGroup
	created := make([]uuid.UUID, n)
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			<-start
			switch i % 4 {
			case 0, 1: // a create that succeeds
				var b bookstore.Book
				b, errs[i] = db.CreateBook(ctx, newBook(fmt.Sprintf("ok %d", i), nil), nil)
				created[i] = b.ID
			case 2: // a create whose ISBN is taken
				key := &bookstore.IdempotencyKey{Key: fmt.Sprintf("k%d", i), Fingerprint: []byte{1}}
				_, errs[i] = db.CreateBook(ctx, newBook(fmt.Sprintf("dup %d", i), &taken), key)
			case 3: // an update that writes, then fails (or panics)
				_, errs[i] = db.UpdateBook(ctx, target.ID, func(b *bookstore.Book) error {
					if i == 3 {
						panic("change panicked")
					}
					return errors.New("change refused")
				})
			}
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		switch {
		case i == 3:
			if panics[i] != "change panicked" {
				t.Errorf("write %d: panic %v, want the change's own", i, panics[i])
			}
		case panics[i] != nil:
			t.Errorf("write %d panicked: %v", i, panics[i])
		case i%4 < 2:
			if errs[i] != nil {
				t.Errorf("create %d: %v", i, errs[i])
			}
		case i%4 == 2:
			if !errors.Is(errs[i], bookstore.ErrConflict) {
				t.Errorf("duplicate create %d: %v, want a conflict", i, errs[i])
			}
		default:
			if errs[i] == nil || errs[i].Error() != "change refused" {
				t.Errorf("update %d: %v, want the change's error", i, errs[i])
			}
		}
	}
	var rows int
	if err := db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM books").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := 1 + n/2; rows != want {
		t.Errorf("%d books stored, want %d (target and the successful creates)", rows, want)
	}
	for i, id := range created {
		if i%4 < 2 {
			if _, err := db.FindBookByID(ctx, id); err != nil {
				t.Errorf("acknowledged create %d not stored: %v", i, err)
			}
		}
	}
	if got, _ := db.FindBookByID(ctx, target.ID); got.Version != 1 {
		t.Errorf("failed updates changed the target: version %d", got.Version)
	}
	var keys int
	if err := db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM idempotency_keys WHERE key = 'old'").Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Errorf("the failed creates' deletion of the expired key was kept")
	}
	commits := db.Commits() - before
	t.Logf("%d writes, %d commits", n, commits)
	if commits >= n/2 {
		t.Errorf("%d commits for %d successful writes released together: no batching", commits, n/2)
	}
}

// Under writes that never pause, the checkpointer beside the writer copies
// the WAL back and the writer's own checkpoint starts it over: the WAL file
// stays within a few times the writer's checkpoint size instead of growing
// with every write, and every acknowledged book is there.
func TestWALStaysBoundedUnderSustainedWrites(t *testing.T) {
	db, path := mustOpen(t)
	ctx := t.Context()
	owners := make([]uuid.UUID, 16)
	for i := range owners {
		owners[i] = uuid.New()
		if err := db.CreateUser(ctx, bookstore.User{ID: owners[i], Username: fmt.Sprintf("u%d", i), PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	const writers, perWriter = 32, 400
	var pageSize int64
	if err := db.Reader().QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	limit := 3 * sqlite.WriterCheckpointPages * pageSize
	stop := make(chan struct{})
	var maxWAL int64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil {
				maxWAL = max(maxWAL, fi.Size())
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	var wg sync.WaitGroup
	var failed sync.Map
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				now := time.Now().UTC().Truncate(time.Millisecond)
				// Titles and owners spread over the indexes, as real
				// catalogues do, so each commit dirties many pages.
				_, err := db.CreateBook(ctx, bookstore.Book{ID: uuid.New(), OwnerID: owners[(w+i)%len(owners)],
					Title: fmt.Sprintf("%x book", uuid.New()), Author: fmt.Sprintf("Author %d", i%97), Publisher: "P",
					PriceCents: int64(i * 7919 % 100000), Version: 1, CreatedAt: now, UpdatedAt: now}, nil)
				if err != nil {
					failed.Store(w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	failed.Range(func(w, err any) bool {
		t.Fatalf("writer %v: %v", w, err)
		return false
	})
	var books int64
	if err := db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM books").Scan(&books); err != nil || books != writers*perWriter {
		t.Fatalf("%d books stored (%v), want %d", books, err, writers*perWriter)
	}
	if maxWAL > limit {
		t.Errorf("the WAL reached %d MB under sustained writes; want at most %d MB", maxWAL>>20, limit>>20)
	}
	t.Logf("largest WAL %d MB (limit %d MB) for %d books", maxWAL>>20, limit>>20, books)
}
