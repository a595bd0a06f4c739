package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// searchFixture is a database whose writer never indexes by itself (the
// test calls IndexPending), with one owner.
type searchFixture struct {
	t     *testing.T
	db    *sqlite.DB
	owner uuid.UUID
}

func newSearchFixture(t *testing.T, opts ...sqlite.Option) *searchFixture {
	db, _ := mustOpen(t, append([]sqlite.Option{sqlite.WithSearchIndexDelay(time.Hour)}, opts...)...)
	owner := bookstore.User{ID: uuid.New(), Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(t.Context(), owner); err != nil {
		t.Fatal(err)
	}
	return &searchFixture{t: t, db: db, owner: owner.ID}
}

// bulkBooks inserts n books of the owner, numbered 0 to n-1, straight into
// the table (the triggers still run), with the title the SQL expression
// title makes of n.
func (f *searchFixture) bulkBooks(n int, title string) {
	f.t.Helper()
	if _, err := f.db.Writer().ExecContext(f.t.Context(), `WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1)
		INSERT INTO books (id, owner_id, title, author, publisher, price_cents, created_at, updated_at)
		SELECT printf('00000000-0000-0000-0000-%012d', n), ?, `+title+`, 'Author', 'P', 1, 0, 0 FROM i`, n, f.owner.String()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *searchFixture) create(title, author string) bookstore.Book {
	f.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	b, err := f.db.CreateBook(f.t.Context(), bookstore.Book{ID: uuid.New(), OwnerID: f.owner, Title: title, Author: author,
		Publisher: "P", PriceCents: 1, Version: 1, CreatedAt: now, UpdatedAt: now}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// search returns the titles q finds, in title order.
func (f *searchFixture) search(q string) []string {
	f.t.Helper()
	books, err := f.db.ListBooks(f.t.Context(), bookstore.BookFilter{OwnerID: &f.owner, Query: q, Limit: 100})
	if err != nil {
		f.t.Fatalf("search %q: %v", q, err)
	}
	var titles []string
	for _, b := range books {
		titles = append(titles, b.Title)
	}
	return titles
}

func (f *searchFixture) count(query string) int64 {
	f.t.Helper()
	var n int64
	if err := f.db.Reader().QueryRowContext(f.t.Context(), query).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// check asserts the invariant of 00007 (a book is indexed or pending, never
// both, and nothing else is either) and FTS5's own integrity check.
func (f *searchFixture) check() {
	f.t.Helper()
	if n := f.count(`SELECT count(*) FROM books_search_pending WHERE book_rowid IN (SELECT rowid FROM books_search)`); n != 0 {
		f.t.Errorf("%d books both indexed and pending", n)
	}
	if n := f.count(`SELECT count(*) FROM books_search_pending WHERE book_rowid NOT IN (SELECT rowid FROM books)`); n != 0 {
		f.t.Errorf("%d pending rowids of no book", n)
	}
	if n := f.count(`SELECT count(*) FROM books WHERE rowid NOT IN (SELECT book_rowid FROM books_search_pending) AND rowid NOT IN (SELECT rowid FROM books_search)`); n != 0 {
		f.t.Errorf("%d books neither indexed nor pending", n)
	}
	if _, err := f.db.Writer().ExecContext(f.t.Context(), `INSERT INTO books_search (books_search) VALUES ('integrity-check')`); err != nil {
		f.t.Errorf("FTS5 integrity-check: %v", err)
	}
}

func equalTitles(got []string, want ...string) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// A search finds every committed book, whether the writer has indexed it
// yet or not, through every change a book goes through in either state.
func TestSearchSeesPendingAndIndexedBooks(t *testing.T) {
	f := newSearchFixture(t)
	ctx := t.Context()
	hobbit := f.create("The Hobbit", "J. R. R. Tolkien")
	f.create("Dune", "Frank Herbert")
	if n := f.count(`SELECT count(*) FROM books_search_pending`); n != 2 {
		t.Fatalf("%d books pending after two creates, want 2", n)
	}
	if got := f.search("hobbit"); !equalTitles(got, "The Hobbit") {
		t.Errorf("pending: hobbit finds %q", got)
	}
	f.check()

	if more := f.db.IndexPending(); more {
		t.Error("IndexPending reports more after indexing two books")
	}
	if n := f.count(`SELECT count(*) FROM books_search_pending`); n != 0 {
		t.Fatalf("%d books still pending after IndexPending", n)
	}
	if got := f.search("hobbit"); !equalTitles(got, "The Hobbit") {
		t.Errorf("indexed: hobbit finds %q", got)
	}
	f.check()

	// Renamed while indexed: out of the index, pending under the new title.
	rename := func(id uuid.UUID, title string) {
		t.Helper()
		if _, err := f.db.UpdateBook(ctx, id, func(b *bookstore.Book) error { b.Title = title; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	rename(hobbit.ID, "There and Back Again")
	if got := f.search("hobbit"); len(got) != 0 {
		t.Errorf("after the rename, hobbit finds %q", got)
	}
	if got := f.search("back again"); !equalTitles(got, "There and Back Again") {
		t.Errorf("after the rename, 'back again' finds %q", got)
	}
	f.check()

	// Renamed again while pending, then indexed.
	rename(hobbit.ID, "The Hobbit, or There and Back Again")
	if got := f.search("hobbit"); !equalTitles(got, "The Hobbit, or There and Back Again") {
		t.Errorf("renamed while pending: hobbit finds %q", got)
	}
	f.check()
	f.db.IndexPending()
	if got := f.search("back again"); !equalTitles(got, "The Hobbit, or There and Back Again") {
		t.Errorf("indexed again: 'back again' finds %q", got)
	}
	f.check()

	// Deleted while pending, and while indexed.
	pending := f.create("Dune Messiah", "Frank Herbert")
	if err := f.db.DeleteBook(ctx, pending.ID, anyBook); err != nil {
		t.Fatal(err)
	}
	if got := f.search("herbert"); !equalTitles(got, "Dune") {
		t.Errorf("after deleting a pending book, herbert finds %q", got)
	}
	f.check()
	if err := f.db.DeleteBook(ctx, hobbit.ID, anyBook); err != nil {
		t.Fatal(err)
	}
	if got := f.search("back again"); len(got) != 0 {
		t.Errorf("after deleting an indexed book, 'back again' finds %q", got)
	}
	f.check()

	// A pending book that takes the rowid of a deleted indexed one (SQLite
	// reuses the largest rowid) is found under its own title only.
	last := f.create("Children of Dune", "Frank Herbert")
	f.db.IndexPending()
	if err := f.db.DeleteBook(ctx, last.ID, anyBook); err != nil {
		t.Fatal(err)
	}
	f.create("Neuromancer", "William Gibson")
	if got := f.search("children"); len(got) != 0 {
		t.Errorf("a reused rowid: children finds %q", got)
	}
	if got := f.search("gibson"); !equalTitles(got, "Neuromancer") {
		t.Errorf("a reused rowid: gibson finds %q", got)
	}
	f.db.IndexPending()
	if got := f.search("children"); len(got) != 0 {
		t.Errorf("a reused rowid, indexed: children finds %q", got)
	}
	f.check()
}

// One round indexes at most MaxIndexRound books, the oldest first, and says
// that more wait; the rounds after it take the rest.
func TestIndexPendingInBoundedRounds(t *testing.T) {
	f := newSearchFixture(t)
	n := sqlite.MaxIndexRound + 25
	f.bulkBooks(n, `'Book ' || n`)
	if !f.db.IndexPending() {
		t.Error("the first round says nothing more waits")
	}
	if got := f.count(`SELECT count(*) FROM books_search_pending`); got != 25 {
		t.Errorf("%d pending after the first round, want 25", got)
	}
	if f.db.IndexPending() {
		t.Error("the second round says more wait")
	}
	last := fmt.Sprintf("Book %d", n-1)
	if got := f.search(last); !equalTitles(got, last) {
		t.Errorf("%q finds %q", last, got)
	}
	f.check()
}

// The writer indexes by itself, a moment after the commits.
func TestWriterIndexesPendingBooks(t *testing.T) {
	f := newSearchFixture(t, sqlite.WithSearchIndexDelay(10*time.Millisecond))
	for i := range 20 {
		f.create(fmt.Sprintf("Book %d", i), "Author")
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.count(`SELECT count(*) FROM books_search_pending`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("books still pending 10 s after their commits")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.count(`SELECT count(*) FROM books_search`); got != 20 {
		t.Errorf("%d books indexed, want 20", got)
	}
	f.check()
}

func anyBook(bookstore.Book) error { return nil }

// Books left pending by an earlier process (a crash, a copy) are indexed
// once the next one has migrated, with no write to set it off.
func TestPendingBooksIndexedAfterMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bookstore.db")
	open := func(delay time.Duration) *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path, sqlite.WithSearchIndexDelay(delay))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	first := open(time.Hour)
	f := &searchFixture{t: t, db: first, owner: uuid.New()}
	if err := first.CreateUser(t.Context(), bookstore.User{ID: f.owner, Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.create("The Hobbit", "J. R. R. Tolkien")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	f.db = open(10 * time.Millisecond)
	defer f.db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for f.count(`SELECT count(*) FROM books_search_pending`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the pending book is still pending 10 s after Migrate")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.search("hobbit"); !equalTitles(got, "The Hobbit") {
		t.Errorf("hobbit finds %q", got)
	}
	f.check()
}

// A search reads a window of books in order before it asks the index: over
// more books than the window, every way a page can come together (filled
// from the window, from the index after a thin window, nothing at all) and
// the page after it give what a scan of every book would.
func TestSearchWindowThenIndex(t *testing.T) {
	f := newSearchFixture(t)
	ctx := t.Context()
	n := sqlite.SearchWindow + 600
	// Titles in title order by n; every 10th has "tenth", every 101st
	// "hundredth" (20 in the window, more after it), the last "zebra".
	f.bulkBooks(n, fmt.Sprintf(`printf('Book %%05d', n) || CASE WHEN n %% 10 = 0 THEN ' tenth' ELSE '' END
		|| CASE WHEN n %% 101 = 0 THEN ' hundredth' ELSE '' END || CASE WHEN n = %d THEN ' zebra' ELSE '' END`, n-1))
	want := func(word string) []string {
		var titles []string
		for i := range n {
			title := fmt.Sprintf("Book %05d", i)
			if i%10 == 0 {
				title += " tenth"
			}
			if i%101 == 0 {
				title += " hundredth"
			}
			if i == n-1 {
				title += " zebra"
			}
			if strings.Contains(title, word) {
				titles = append(titles, title)
			}
		}
		return titles
	}
	pages := func(q string) []string {
		var titles []string
		var after *bookstore.Book
		for {
			books, err := f.db.ListBooks(ctx, bookstore.BookFilter{OwnerID: &f.owner, Query: q, Limit: 21, After: after})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			for _, b := range books {
				titles = append(titles, b.Title)
			}
			if len(books) < 21 {
				return titles
			}
			after = &books[len(books)-1]
		}
	}
	for _, indexed := range []bool{false, true} {
		if indexed {
			for f.db.IndexPending() {
			}
		}
		for _, q := range []string{"tenth", "hundredth", "zebra", "nothing like it"} {
			if got, want := pages(q), want(q); !equalTitles(got, want...) {
				t.Errorf("indexed %v, q=%q: %d titles, want %d (first %q, want %q)", indexed, q, len(got), len(want), first(got), first(want))
			}
		}
	}
}

func first(titles []string) string {
	if len(titles) == 0 {
		return ""
	}
	return titles[0]
}
