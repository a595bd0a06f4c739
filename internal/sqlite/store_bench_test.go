package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// benchDB is a database of users × books (bulk-inserted in one
// transaction) and one user in the middle, whose books the benchmarks read.
type benchDB struct {
	db      *sqlite.DB
	user    uuid.UUID
	session uuid.UUID
	books   []uuid.UUID
}

func newBenchDB(b *testing.B, users, booksPerUser int) *benchDB {
	b.Helper()
	db, _ := mustOpen(b)
	ctx := context.Background()
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().UTC().Truncate(time.Millisecond)
	out := &benchDB{db: db}
	for i := range users {
		id := uuid.Must(uuid.NewV7())
		if _, err := tx.ExecContext(ctx, "INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (?, ?, 'x', 0, ?)",
			id.String(), fmt.Sprintf("bench%05d", i), now.UnixMilli()); err != nil {
			b.Fatal(err)
		}
		for n := range booksPerUser {
			bookID := uuid.Must(uuid.NewV7())
			created := now.Add(time.Duration(i*booksPerUser+n) * time.Millisecond).UnixMilli()
			if _, err := tx.ExecContext(ctx, `INSERT INTO books (id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at)
				VALUES (?, ?, ?, 'J. R. R. Tolkien', 'HarperCollins', 1299, NULL, 1937, 1, ?, ?)`,
				bookID.String(), id.String(), fmt.Sprintf("The Hobbit, volume %d", n), created, created); err != nil {
				b.Fatal(err)
			}
			if i == users/2 {
				out.books = append(out.books, bookID)
			}
		}
		if i == users/2 {
			out.user = id
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	out.session = uuid.Must(uuid.NewV7())
	s := bookstore.Session{ID: out.session, UserID: out.user, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, s, []byte("0123456789abcdef0123456789abcdef"), 0); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkListBooks is the page of `make bench`'s list: 20 books (and the
// one more that tells whether a next page exists) of one user among 1,000
// users' 20,000 books.
func BenchmarkListBooks(b *testing.B) {
	d := newBenchDB(b, 1000, 20)
	ctx := context.Background()
	f := bookstore.BookFilter{OwnerID: &d.user, Sort: bookstore.SortCreatedAt, Limit: 21}
	b.ReportAllocs()
	for b.Loop() {
		books, err := d.db.ListBooks(ctx, f)
		if err != nil || len(books) != 20 {
			b.Fatalf("ListBooks: %d books, %v", len(books), err)
		}
	}
}

// BenchmarkListBooksQuery is a q search over one user's 2,000 books that
// matches none of them: every book of the user is read.
func BenchmarkListBooksQuery(b *testing.B) {
	d := newBenchDB(b, 10, 2000)
	ctx := context.Background()
	f := bookstore.BookFilter{OwnerID: &d.user, Sort: bookstore.SortCreatedAt, Limit: 21, Query: "silmarillion"}
	b.ReportAllocs()
	for b.Loop() {
		if books, err := d.db.ListBooks(ctx, f); err != nil || len(books) != 0 {
			b.Fatalf("ListBooks: %d books, %v", len(books), err)
		}
	}
}

func BenchmarkFindBookByID(b *testing.B) {
	d := newBenchDB(b, 1000, 20)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.db.FindBookByID(ctx, d.books[7]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateSession is the session check every authenticated
// request makes.
func BenchmarkAuthenticateSession(b *testing.B) {
	d := newBenchDB(b, 1000, 0)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.db.AuthenticateSession(ctx, d.session, d.user, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateBook is one insert transaction (WAL, synchronous=NORMAL)
// into a table of 20,000 books with all its indexes.
func BenchmarkCreateBook(b *testing.B) {
	d := newBenchDB(b, 1000, 20)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := d.createBook(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// createBook creates a book of the benchmarks' user.
func (d *benchDB) createBook(ctx context.Context) error {
	year := 1937
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := d.db.CreateBook(ctx, bookstore.Book{
		ID: uuid.Must(uuid.NewV7()), OwnerID: d.user, Title: "The Hobbit", Author: "J. R. R. Tolkien",
		Publisher: "HarperCollins", PriceCents: 1299, PublishedYear: &year, Version: 1, CreatedAt: now, UpdatedAt: now,
	}, nil)
	return err
}

// BenchmarkRotateRefreshToken is one refresh of a session that has reached
// its steady state: SpentRefreshTokensKept spent tokens, so every rotation
// also deletes the oldest.
func BenchmarkRotateRefreshToken(b *testing.B) {
	d := newBenchDB(b, 1000, 0)
	ctx := context.Background()
	token := func(i int) []byte { return fmt.Appendf(nil, "%032d", i) }
	current := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	for i := range bookstore.SpentRefreshTokensKept + 1 {
		if _, err := d.db.RotateRefreshToken(ctx, current, token(i), now); err != nil {
			b.Fatal(err)
		}
		current = token(i)
	}
	i := bookstore.SpentRefreshTokensKept + 1
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.db.RotateRefreshToken(ctx, current, token(i), now); err != nil {
			b.Fatal(err)
		}
		current = token(i)
		i++
	}
}

// BenchmarkListBooksQueryMillion is the search target: a q that
// matches nothing among 1,000,000 books of one user, served by the trigram
// index (books_search). Seeding takes about a minute.
func BenchmarkListBooksQueryMillion(b *testing.B) {
	db, _ := mustOpen(b)
	ctx := context.Background()
	user := uuid.Must(uuid.NewV7())
	now := time.Now().UnixMilli()
	if _, err := db.Writer().ExecContext(ctx, "INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (?, 'million', 'x', 0, ?)",
		user.String(), now); err != nil {
		b.Fatal(err)
	}
	// Distinct titles and authors made of words, as a catalogue's are.
	if _, err := db.Writer().ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
		INSERT INTO books (id, owner_id, title, author, publisher, price_cents, version, created_at, updated_at)
		SELECT printf('%08x-0000-7000-8000-%012x', i, i), ?, printf('The Hobbit, volume %d of %d', i, i % 977),
			printf('Author %d', i % 10007), 'HarperCollins', 1299, 1, ? + i, ? + i FROM n`,
		user.String(), now, now); err != nil {
		b.Fatal(err)
	}
	f := bookstore.BookFilter{OwnerID: &user, Limit: 21, Query: "silmarillion"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if books, err := db.ListBooks(ctx, f); err != nil || len(books) != 0 {
			b.Fatalf("ListBooks: %d books, %v", len(books), err)
		}
	}
}

// BenchmarkCreateBookParallel is creates from 32 goroutines, as under the
// HTTP load: the writer group-commits whatever waits for it. The variants
// drop what each insert also maintains, to price it: the two cross-owner
// sort indexes whose keys land at random positions (books_title,
// books_price) and the search index's triggers.
func BenchmarkCreateBookParallel(b *testing.B) {
	for _, v := range []struct {
		name string
		drop []string
	}{
		{"schema", nil},
		{"without_books_title_price", []string{"DROP INDEX books_title", "DROP INDEX books_price"}},
		{"without_search_index", []string{"DROP TRIGGER books_search_insert"}},
	} {
		b.Run(v.name, func(b *testing.B) {
			d := newBenchDB(b, 1000, 20)
			ctx := context.Background()
			for _, stmt := range v.drop {
				if _, err := d.db.Writer().ExecContext(ctx, stmt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetParallelism(16) // × GOMAXPROCS 2 = 32 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := d.createBook(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
