package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func testListBooks(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("SortsAndPages", func(t *testing.T) {
		s := open(t)
		alice := mustCreateUser(t, s, "alice")
		bob := mustCreateUser(t, s, "bob")

		// Ties on purpose: titles equal but for case, equal prices, equal
		// creation times. Titles are ASCII letters, digits and spaces, where
		// every case-insensitive collation agrees.
		type spec struct {
			owner   uuid.UUID
			title   string
			author  string
			price   int64
			created time.Duration
		}
		specs := []spec{
			{alice.ID, "Dune", "Frank Herbert", 1500, 0},
			{alice.ID, "dune", "Frank Herbert", 999, 0},
			{alice.ID, "DUNE", "frank herbert", 1500, 0},
			{alice.ID, "Anathem", "Neal Stephenson", 2000, time.Second},
			{alice.ID, "anathem", "Neal Stephenson", 999, time.Second},
			{alice.ID, "Babel", "R F Kuang", 1500, time.Second},
			{alice.ID, "Circe", "Madeline Miller", 0, 2 * time.Second},
			{alice.ID, "circe", "Madeline Miller", 2000, 2 * time.Second},
			{alice.ID, "Emma", "Jane Austen", 999, 3 * time.Second},
			{alice.ID, "Zorro", "Isabel Allende", 1500, 3 * time.Second},
			{alice.ID, "1984", "George Orwell", 350, 4 * time.Second},
			{alice.ID, "Zebra", "Jane Austen", 999, 5 * time.Second},
			{alice.ID, "middlemarch", "George Eliot", 2000, 5 * time.Millisecond},
			{bob.ID, "Dune", "Frank Herbert", 1500, 0},
			{bob.ID, "Aardvark", "Jane Austen", 10, 6 * time.Second},
			{bob.ID, "zzz", "Nobody", 999, time.Second},
		}
		var all []bookstore.Book
		for _, sp := range specs {
			b := newBook(sp.owner, sp.title)
			b.Author, b.PriceCents = sp.author, sp.price
			b.CreatedAt, b.UpdatedAt = t0.Add(sp.created), t0.Add(sp.created)
			all = append(all, mustCreateBook(t, s, b))
		}

		filters := []struct {
			name   string
			filter bookstore.BookFilter
			match  func(bookstore.Book) bool
		}{
			{"one owner", bookstore.BookFilter{OwnerID: &alice.ID},
				func(b bookstore.Book) bool { return b.OwnerID == alice.ID }},
			{"every owner", bookstore.BookFilter{},
				func(bookstore.Book) bool { return true }},
			{"author", bookstore.BookFilter{OwnerID: &alice.ID, Author: "FRANK HERBERT"},
				func(b bookstore.Book) bool {
					return b.OwnerID == alice.ID && strings.EqualFold(b.Author, "frank herbert")
				}},
			{"query", bookstore.BookFilter{Query: "AUSTEN"},
				func(b bookstore.Book) bool { return b.Author == "Jane Austen" }},
		}
		for _, fc := range filters {
			for _, sort := range bookstore.BookSorts {
				want := sortedBooks(all, sort, fc.match)
				for _, size := range []int{1, 2, 5, 100} {
					t.Run(fmt.Sprintf("%s/%s/%d", fc.name, sort, size), func(t *testing.T) {
						f := fc.filter
						f.Sort, f.Limit = sort, size
						got := pageThrough(t, s, f)
						if !slices.Equal(bookIDs(got), bookIDs(want)) {
							t.Fatalf("order\n got %s\nwant %s", describe(got, sort), describe(want, sort))
						}
					})
				}
			}
		}
	})

	t.Run("QueryIsLiteral", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		for _, b := range []struct{ title, author string }{
			{"100% Pure", "A"},
			{"100 Pure", "A"},
			{"snake_case", "A"},
			{"snakeXcase", "A"},
			{`back\slash`, "A"},
			{"backslash", "A"},
			{"Plain", "Ann 50%"},
		} {
			book := newBook(u.ID, b.title)
			book.Author = b.author
			mustCreateBook(t, s, book)
		}
		tests := []struct {
			query string
			want  []string // titles, in title order
		}{
			{"%", []string{"100% Pure", "Plain"}},
			{"0% p", []string{"100% Pure"}},
			{"_", []string{"snake_case"}},
			{"E_C", []string{"snake_case"}},
			{`\`, []string{`back\slash`}},
			{`k\s`, []string{`back\slash`}},
			{"SNAKE", []string{"snake_case", "snakeXcase"}},
			{"ann", []string{"Plain"}},
			{"nothing", nil},
		}
		for _, tc := range tests {
			t.Run(tc.query, func(t *testing.T) {
				got, err := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &u.ID, Query: tc.query, Sort: bookstore.SortTitle, Limit: 100})
				if err != nil {
					t.Fatalf("ListBooks: %v", err)
				}
				if !slices.Equal(bookTitles(got), tc.want) {
					t.Fatalf("q=%q: got %q, want %q", tc.query, bookTitles(got), tc.want)
				}
			})
		}
	})

	t.Run("AuthorIsExact", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		for i, author := range []string{"Ann Leckie", "ANN LECKIE", "Ann Leckie Jr", "Leckie", "Ann"} {
			b := newBook(u.ID, fmt.Sprintf("Book %d", i))
			b.Author = author
			mustCreateBook(t, s, b)
		}
		got, err := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &u.ID, Author: "ann leckie", Sort: bookstore.SortTitle, Limit: 100})
		if err != nil {
			t.Fatalf("ListBooks: %v", err)
		}
		if want := []string{"Book 0", "Book 1"}; !slices.Equal(bookTitles(got), want) {
			t.Fatalf("got %q, want %q", bookTitles(got), want)
		}
	})

	t.Run("UnknownSort", func(t *testing.T) {
		s := open(t)
		_, err := s.ListBooks(t.Context(), bookstore.BookFilter{Sort: "title; DROP TABLE books", Limit: 10})
		wantErr(t, err, bookstore.ErrInvalid)
	})

	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		got, err := s.ListBooks(t.Context(), bookstore.BookFilter{Sort: bookstore.SortTitle, Limit: 10})
		if err != nil || len(got) != 0 {
			t.Fatalf("ListBooks = %v, %v; want nothing", got, err)
		}
	})
}

// pageThrough lists every page of f (f.Limit books each), passing as After
// only what a cursor would carry: the sort field and the id.
func pageThrough(t *testing.T, s bookstore.Store, f bookstore.BookFilter) []bookstore.Book {
	t.Helper()
	var got []bookstore.Book
	for range 100 {
		page, err := s.ListBooks(t.Context(), f)
		if err != nil {
			t.Fatalf("ListBooks: %v", err)
		}
		if len(page) > f.Limit {
			t.Fatalf("page of %d books, limit %d", len(page), f.Limit)
		}
		got = append(got, page...)
		if len(page) < f.Limit {
			return got
		}
		last := page[len(page)-1]
		after := bookstore.Book{ID: last.ID}
		switch strings.TrimPrefix(string(f.Sort), "-") {
		case "title":
			after.Title = last.Title
		case "created_at":
			after.CreatedAt = last.CreatedAt
		case "price_cents":
			after.PriceCents = last.PriceCents
		}
		f.After = &after
	}
	t.Fatal("paging did not end")
	return nil
}

// sortedBooks is the order the store must produce: the sort field, then the
// id, both in the sort's direction.
func sortedBooks(all []bookstore.Book, sort bookstore.BookSort, match func(bookstore.Book) bool) []bookstore.Book {
	var out []bookstore.Book
	for _, b := range all {
		if match(b) {
			out = append(out, b)
		}
	}
	desc := strings.HasPrefix(string(sort), "-")
	slices.SortFunc(out, func(a, b bookstore.Book) int {
		var c int
		switch strings.TrimPrefix(string(sort), "-") {
		case "title":
			c = foldCompare(a.Title, b.Title)
		case "created_at":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "price_cents":
			c = cmp.Compare(a.PriceCents, b.PriceCents)
		}
		c = cmp.Or(c, compareIDs(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	return out
}

func bookIDs(bs []bookstore.Book) []uuid.UUID {
	ids := make([]uuid.UUID, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	return ids
}

func describe(bs []bookstore.Book, sort bookstore.BookSort) string {
	var parts []string
	for _, b := range bs {
		parts = append(parts, fmt.Sprintf("%s/%d/%s/%s", b.Title, b.PriceCents, b.CreatedAt.Format("05.000"), b.ID.String()[:8]))
	}
	return fmt.Sprintf("(%s) [%s]", sort, strings.Join(parts, " "))
}
