package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/storetest"
	schema "github.com/bookstore/bookstore/sql"
)

// The helpers of pgtest, shared with the API and program tests: a schema of
// its own for every store under test.
var (
	testURL    = pgtest.URL
	mustSchema = pgtest.Schema
	mustExec   = pgtest.MustExec
	exec       = pgtest.Exec
)

// mustOpen opens a store on dbURL, closed when t ends.
func mustOpen(t testing.TB, dbURL string, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), dbURL, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustMigrated opens and migrates a store in a new schema.
func mustMigrated(t testing.TB, opts ...postgres.Option) (db *postgres.DB, name, dbURL string) {
	t.Helper()
	name, dbURL = mustSchema(t)
	db = mustOpen(t, dbURL, opts...)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db, name, dbURL
}

func TestStore(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) bookstore.Store {
		db, _, _ := mustMigrated(t)
		return db
	})
}

func TestThrottleStore(t *testing.T) {
	testURL(t)
	storetest.RunThrottle(t, func(t *testing.T) bookstore.ThrottleStore {
		db, _, _ := mustMigrated(t)
		return db
	})
}

func TestMigrateConcurrently(t *testing.T) {
	_, dbURL := mustSchema(t)
	// Four replicas starting at once, each with its own pool.
	const n = 4
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		dbs[i] = mustOpen(t, dbURL)
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Each migration was applied once: a second run would have a row of
	// its own in goose's table (and would have failed on CREATE TABLE).
	files, err := fs.Glob(schema.PostgresMigrations, "postgres/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	var applied []int64
	rows, err := dbs[0].Pool().Query(t.Context(), "SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id")
	if err == nil {
		applied, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if len(applied) != len(files) {
		t.Fatalf("applied versions %v for %d migration files", applied, len(files))
	}
	// Versions are the files' numbers, in order; they may have gaps (each
	// branch of work takes its own number).
	for i, v := range applied {
		var want int64
		fmt.Sscanf(files[i][strings.LastIndex(files[i], "/")+1:], "%d", &want)
		if v != want {
			t.Fatalf("applied versions %v, want those of %v once each", applied, files)
		}
	}
	for i, db := range dbs {
		if _, err := db.SigningKeys(t.Context()); err != nil {
			t.Errorf("store %d after Migrate: %v", i, err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Errorf("Migrate %d again: %v", i, err)
		}
	}
}

// wantUnavailable fails unless err is ErrUnavailable with a client message
// free of driver text, keeping the driver's cause in Error() for the logs.
func wantUnavailable(t *testing.T, err error, cause string) {
	t.Helper()
	if !errors.Is(err, bookstore.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	de, ok := errors.AsType[*bookstore.Error](err)
	if !ok || de.Message != "the database is temporarily unavailable" {
		t.Fatalf("err = %#v: want a *bookstore.Error with the generic message", err)
	}
	if !strings.Contains(err.Error(), cause) {
		t.Errorf("Error() = %q: want the driver's cause (%q) for the logs", err, cause)
	}
}

// TestUnreachable needs no database: nothing listens where the pool points.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	db := mustOpen(t, "postgres://postgres@"+addr+"/test?sslmode=disable", postgres.WithConnectTimeout(time.Second))
	ctx := t.Context()
	u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	calls := map[string]func() error{
		"Ping":    func() error { return db.Ping(ctx) },
		"Migrate": func() error { return db.Migrate(ctx) },
		"CreateUser": func() error {
			return db.CreateUser(ctx, u)
		},
		"FindUserByID": func() error { _, err := db.FindUserByID(ctx, u.ID); return err },
		"ListBooks":    func() error { _, err := db.ListBooks(ctx, bookstore.BookFilter{Limit: 10}); return err },
		"UpdateBook": func() error {
			_, err := db.UpdateBook(ctx, uuid.New(), func(*bookstore.Book) error {
				t.Error("change called without a database")
				return nil
			})
			return err
		},
		"RotateRefreshToken": func() error {
			_, err := db.RotateRefreshToken(ctx, []byte("a"), []byte("b"), time.Now())
			return err
		},
		"Secret": func() error {
			_, err := db.Secret(ctx, "x", func() ([]byte, error) { return []byte("v"), nil })
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantUnavailable(t, call(), "connect") })
	}
}

// terminate ends the connections named name (their application_name).
func terminate(t *testing.T, name string) { pgtest.Terminate(t, name) }

func TestLostConnection(t *testing.T) {
	db, name, _ := mustMigrated(t)
	ctx := t.Context()
	u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b, err := db.CreateBook(ctx, bookstore.Book{ID: uuid.New(), OwnerID: u.ID, Title: "Dune", CreatedAt: time.Now(), UpdatedAt: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("InTransaction", func(t *testing.T) {
		// The server goes away between the read and the write.
		_, err := db.UpdateBook(ctx, b.ID, func(b *bookstore.Book) error {
			terminate(t, name)
			b.Title = "Changed"
			return nil
		})
		wantUnavailable(t, err, "terminating connection")
	})

	t.Run("Idle", func(t *testing.T) {
		// Every idle connection of the pool is dead. The pool pings only
		// connections idle for over a second before handing them out, so
		// calls may fail, but only as ErrUnavailable.
		for range 3 {
			if _, err := db.FindUserByID(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		terminate(t, name)
		for range 10 {
			if _, err := db.FindUserByID(ctx, u.ID); err != nil && !errors.Is(err, bookstore.ErrUnavailable) {
				t.Fatalf("err = %v, want nil or ErrUnavailable", err)
			}
		}
	})

	t.Run("Recovers", func(t *testing.T) {
		// The pool replaced the broken connections: everything works, and
		// the interrupted update left nothing behind.
		var err error
		for range 50 {
			if err = db.Ping(ctx); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("Ping after the connections were lost: %v", err)
		}
		got, err := db.FindBookByID(ctx, b.ID)
		if err != nil || got.Title != "Dune" || got.Version != 1 {
			t.Fatalf("book after the interrupted update = %+v, %v", got, err)
		}
		if _, err := db.UpdateBook(ctx, b.ID, func(b *bookstore.Book) error { b.Title = "Changed"; return nil }); err != nil {
			t.Fatalf("UpdateBook: %v", err)
		}
	})
}

func TestStatementTimeout(t *testing.T) {
	db, _, dbURL := mustMigrated(t, postgres.WithStatementTimeout(200*time.Millisecond))
	ctx := t.Context()
	var setting string
	if err := db.Pool().QueryRow(ctx, "SHOW statement_timeout").Scan(&setting); err != nil || setting != "200ms" {
		t.Fatalf("statement_timeout = %q, %v; want 200ms", setting, err)
	}
	u := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b, err := db.CreateBook(ctx, bookstore.Book{ID: uuid.New(), OwnerID: u.ID, Title: "Dune", CreatedAt: time.Now(), UpdatedAt: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Another process holds the book's row lock.
	other, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM books WHERE id = $1 FOR UPDATE", b.ID); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = db.UpdateBook(ctx, b.ID, func(b *bookstore.Book) error { b.Title = "Changed"; return nil })
	wantUnavailable(t, err, "statement timeout")
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("gave up after %v, before the statement timeout", waited)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateBook(ctx, b.ID, func(b *bookstore.Book) error { b.Title = "Changed"; return nil }); err != nil {
		t.Fatalf("UpdateBook after the lock is gone: %v", err)
	}
}

// TestPoolSettings needs no database: Open does not connect.
func TestPoolSettings(t *testing.T) {
	tests := []struct {
		name             string
		url              string
		opts             []postgres.Option
		maxConns         int32
		connectTimeout   time.Duration
		statementTimeout string
	}{
		{"defaults", "postgres://u@127.0.0.1:1/db", nil, 16, 5 * time.Second, "10000"},
		{"keyword/value", "host=127.0.0.1 port=1 dbname=db pool_max_conns=5", nil, 5, 5 * time.Second, "10000"},
		{"from the URL", "postgres://u@127.0.0.1:1/db?pool_max_conns=3&connect_timeout=7&statement_timeout=2500", nil, 3, 7 * time.Second, "2500"},
		{"options over the URL", "postgres://u@127.0.0.1:1/db?pool_max_conns=3&connect_timeout=7&statement_timeout=2500",
			[]postgres.Option{postgres.WithMaxConns(20), postgres.WithConnectTimeout(time.Second), postgres.WithStatementTimeout(0)},
			20, time.Second, "0"},
		{"bounds", "postgres://u@127.0.0.1:1/db",
			[]postgres.Option{postgres.WithMaxConns(0), postgres.WithConnectTimeout(-time.Second), postgres.WithStatementTimeout(-time.Second)},
			1, 0, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := mustOpen(t, tc.url, tc.opts...)
			cfg := db.Pool().Config()
			if cfg.MaxConns != tc.maxConns {
				t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, tc.maxConns)
			}
			if cfg.ConnConfig.ConnectTimeout != tc.connectTimeout {
				t.Errorf("ConnectTimeout = %v, want %v", cfg.ConnConfig.ConnectTimeout, tc.connectTimeout)
			}
			if got := cfg.ConnConfig.RuntimeParams["statement_timeout"]; got != tc.statementTimeout {
				t.Errorf("statement_timeout = %q, want %q", got, tc.statementTimeout)
			}
		})
	}
	if _, err := postgres.Open(t.Context(), "postgres://u:secret@127.0.0.1:1/db?pool_max_conns=x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open with a bad URL: err = %v, want an error without the password", err)
	}
}

// Two pools on one database stand for two replicas: the read-modify-write
// methods must hold up when the other writer is another process.
func TestReplicas(t *testing.T) {
	a, _, dbURL := mustMigrated(t)
	b := mustOpen(t, dbURL)
	replicas := []*postgres.DB{a, b}
	ctx := t.Context()
	now := time.Now()
	owner := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: now}
	if err := a.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	newBook := func(title string) bookstore.Book {
		return bookstore.Book{ID: uuid.New(), OwnerID: owner.ID, Title: title, Author: "A", CreatedAt: now, UpdatedAt: now}
	}
	const n = 20 // per replica

	t.Run("IfMatchHasOneWinner", func(t *testing.T) {
		book, err := a.CreateBook(ctx, newBook("Draft"), nil)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				_, err := replicas[i%2].UpdateBook(ctx, book.ID, func(b *bookstore.Book) error {
					if b.Version != book.Version { // If-Match: the version both read
						return bookstore.Errorf(bookstore.ErrPreconditionFailed, "version mismatch")
					}
					b.Title = fmt.Sprintf("Edit %d", i)
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, bookstore.ErrPreconditionFailed):
				t.Errorf("UpdateBook: %v", err)
			}
		}
		got, _ := b.FindBookByID(ctx, book.ID)
		if wins != 1 || got.Version != 2 {
			t.Fatalf("%d updates won, version %d; want exactly one, version 2", wins, got.Version)
		}
	})

	t.Run("CreatesAllLand", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range 2 * n {
			wg.Go(func() {
				bk := newBook(fmt.Sprintf("Create %02d", i))
				_, err := replicas[i%2].CreateBook(ctx, bk, &bookstore.IdempotencyKey{Key: bk.ID.String(), Fingerprint: []byte("fp")})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("CreateBook: %v", err)
			}
		}
		all, err := a.ListBooks(ctx, bookstore.BookFilter{OwnerID: &owner.ID, Query: "Create ", Limit: 1000})
		if err != nil || len(all) != 2*n {
			t.Fatalf("%d books stored (%v), want %d", len(all), err, 2*n)
		}
	})

	t.Run("SameKeyCreatesOnce", func(t *testing.T) {
		key := &bookstore.IdempotencyKey{Key: "same", Fingerprint: []byte("body")}
		ids := make(chan uuid.UUID, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				got, err := replicas[i%2].CreateBook(ctx, newBook("Keyed"), key)
				if err != nil {
					t.Errorf("CreateBook: %v", err)
					return
				}
				ids <- got.ID
			})
		}
		wg.Wait()
		close(ids)
		distinct := map[uuid.UUID]bool{}
		for id := range ids {
			distinct[id] = true
		}
		stored, _ := a.ListBooks(ctx, bookstore.BookFilter{OwnerID: &owner.ID, Query: "Keyed", Limit: 1000})
		if len(distinct) != 1 || len(stored) != 1 {
			t.Fatalf("%d books returned, %d stored; want one", len(distinct), len(stored))
		}
	})

	t.Run("SameKeyOtherBodies", func(t *testing.T) {
		wins := make(chan bool, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				key := &bookstore.IdempotencyKey{Key: "contested", Fingerprint: fmt.Appendf(nil, "body %d", i)}
				_, err := replicas[i%2].CreateBook(ctx, newBook("Contested"), key)
				if err != nil && !errors.Is(err, bookstore.ErrConflict) {
					t.Errorf("CreateBook: %v", err)
				}
				wins <- err == nil
			})
		}
		wg.Wait()
		close(wins)
		won := 0
		for w := range wins {
			if w {
				won++
			}
		}
		stored, _ := a.ListBooks(ctx, bookstore.BookFilter{OwnerID: &owner.ID, Query: "Contested", Limit: 1000})
		if won != 1 || len(stored) != 1 {
			t.Fatalf("%d creates succeeded, %d books stored; want one", won, len(stored))
		}
	})

	t.Run("RefreshTokenSpentOnce", func(t *testing.T) {
		sess := bookstore.Session{ID: uuid.New(), UserID: owner.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := a.CreateSession(ctx, sess, []byte("r1"), 0); err != nil {
			t.Fatal(err)
		}
		results := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				_, err := replicas[i%2].RotateRefreshToken(ctx, []byte("r1"), fmt.Appendf(nil, "r2-%d", i), now)
				results <- err
			})
		}
		wg.Wait()
		close(results)
		rotated := 0
		for err := range results {
			switch {
			case err == nil:
				rotated++
			case !errors.Is(err, bookstore.ErrRefreshReused):
				t.Errorf("RotateRefreshToken: %v", err)
			}
		}
		// One rotation; every other presentation is reuse, which revoked
		// the session.
		if rotated != 1 {
			t.Fatalf("%d rotations succeeded, want 1", rotated)
		}
		if _, err := b.AuthenticateSession(ctx, sess.ID, owner.ID, now); !errors.Is(err, bookstore.ErrUnauthorized) {
			t.Fatalf("session after reuse: %v, want ErrUnauthorized", err)
		}
	})
}

// The per-owner listings must be index scans in the order asked for: no
// sort step, whichever direction and with or without a keyset position, on a
// table big enough for the planner to weigh its options.
func TestListBooksQueryPlan(t *testing.T) {
	db, _, _ := mustMigrated(t)
	ctx := t.Context()
	seed := []string{
		`INSERT INTO users (id, username, password_hash, created_at)
		 SELECT gen_random_uuid(), 'user' || i, 'h', now() FROM generate_series(1, 50) AS i`,
		`INSERT INTO books (id, owner_id, title, author, publisher, price_cents, created_at, updated_at)
		 SELECT gen_random_uuid(), u.id, md5(u.username || i), 'Author ' || (i % 40), 'P', (i * 7919) % 5000,
		        now() - i * interval '1 second', now()
		 FROM users AS u, generate_series(1, 400) AS i`,
		`ANALYZE users, books`,
	}
	for _, sql := range seed {
		if _, err := db.Pool().Exec(ctx, sql); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	var owner uuid.UUID
	if err := db.Pool().QueryRow(ctx, "SELECT id FROM users LIMIT 1").Scan(&owner); err != nil {
		t.Fatal(err)
	}

	sortNode := regexp.MustCompile(`\bSort\b`)
	for _, sort := range bookstore.BookSorts {
		column := strings.TrimSuffix(strings.TrimPrefix(string(sort), "-"), "_cents")
		// Mid-range keyset values: titles are hex, prices 0..4999, creation
		// times the last 400 seconds.
		after := &bookstore.Book{ID: uuid.New(), Title: "8", PriceCents: 2500, CreatedAt: time.Now().Add(-200 * time.Second)}
		tests := []struct {
			name      string
			filter    bookstore.BookFilter
			wantIndex string
		}{
			{"owner", bookstore.BookFilter{OwnerID: &owner}, "books_owner_" + column},
			{"owner after", bookstore.BookFilter{OwnerID: &owner, After: after}, "books_owner_" + column},
			{"owner query", bookstore.BookFilter{OwnerID: &owner, Query: "a", After: after}, "books_owner_" + column},
			{"all owners", bookstore.BookFilter{}, "books_" + column},
			{"all owners after", bookstore.BookFilter{After: after}, "books_" + column},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s", sort, tc.name), func(t *testing.T) {
				f := tc.filter
				f.Sort, f.Limit = sort, 20
				query, args, err := postgres.ListBooksQuery(f)
				if err != nil {
					t.Fatalf("ListBooksQuery: %v", err)
				}
				plan := explain(t, db, query, args)
				if sortNode.MatchString(plan) {
					t.Errorf("plan sorts:\n%s\nquery: %s", plan, query)
				}
				if !regexp.MustCompile(`Index Scan (Backward )?using ` + tc.wantIndex + ` on books`).MatchString(plan) {
					t.Errorf("plan does not scan %s:\n%s\nquery: %s", tc.wantIndex, plan, query)
				}
			})
		}
	}

	// A q of 3 characters or more looks its candidates up in the trigram
	// indexes (00006_books_search.sql) instead of reading the owner's books.
	for _, owner := range []*uuid.UUID{&owner, nil} {
		query, args, err := postgres.ListBooksQuery(bookstore.BookFilter{OwnerID: owner, Query: "no such title", Limit: 20})
		if err != nil {
			t.Fatalf("ListBooksQuery: %v", err)
		}
		plan := explain(t, db, query, args)
		for _, index := range []string{"books_title_trgm", "books_author_trgm"} {
			if !strings.Contains(plan, "Bitmap Index Scan on "+index) {
				t.Errorf("q plan does not use %s:\n%s\nquery: %s", index, plan, query)
			}
		}
	}
}

// explain returns PostgreSQL's plan of query.
func explain(t *testing.T, db *postgres.DB, query string, args []any) string {
	t.Helper()
	rows, err := db.Pool().Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	return strings.Join(lines, "\n")
}

func TestPing(t *testing.T) {
	db, _, _ := mustMigrated(t)
	ctx, cancel := context.WithCancel(t.Context())
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping with a cancelled context succeeded")
	}
}
