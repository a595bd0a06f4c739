package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// scanMatches is what q has always meant, before any index: a literal
// substring of the title or of the author, with ASCII letters folded and
// every other character (É and é, ß and SS) compared as it is.
func scanMatches(b bookstore.Book, q string) bool {
	lower := func(s string) string {
		return strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, s)
	}
	return strings.Contains(lower(b.Title), lower(q)) || strings.Contains(lower(b.Author), lower(q))
}

// testSearch checks that q answers exactly as scanMatches, whether the
// engine's index serves the query (3 characters or more) or a scan does
// (fewer), and that the index follows creates, renames and deletes.
func testSearch(t *testing.T, open func(t *testing.T) bookstore.Store) {
	s := open(t)
	alice := mustCreateUser(t, s, "alice")
	bob := mustCreateUser(t, s, "bob")
	var all []bookstore.Book
	add := func(owner uuid.UUID, title, author string) bookstore.Book {
		b := newBook(owner, title)
		b.Author = author
		b = mustCreateBook(t, s, b)
		all = append(all, b)
		return b
	}
	for i, ta := range [][2]string{
		{"The Hobbit", "J. R. R. Tolkien"},
		{"THE SILMARILLION", "j. r. r. tolkien"},
		{"Émile ou De l'éducation", "Jean-Jacques Rousseau"},
		{"émile", "ÉMILE ZOLA"},
		{"Straße der Ölsardinen", "GROSSMANN"},
		{"İstanbul", "ırmak"},
		{"Cafe\u0301 society", "Noël Coward"}, // e + combining acute
		{"Café society", "Noel Coward"},       // precomposed é
		{`Say "hello" AND goodbye`, "NEAR(x y)"},
		{"a*b^c:d", "-minus +plus"},
		{"100% pure_snake", `back\slash`},
		{"ab", "xy"},
		{"日本語の本", "村上春樹"},
		{"Emoji 📚📚 books", "🙂 smiley"},
		{"tolkientolkien", "hob bit"},
	} {
		add(alice.ID, ta[0], ta[1])
		if i%3 == 0 {
			add(bob.ID, ta[0], ta[1]) // the same text under another owner
		}
	}
	queries := []string{
		// Fewer than 3 characters: the scan.
		"a", "A", "é", "É", "ab", "AB", "Ab", "%", "_", `\`, `"`, "📚", "語の",
		// 3 or more: the index, then the same answer.
		"hob", "HOB", "hObBiT", "tolkien", "TOLKIEN", "silmarillion",
		"émile", "ÉMILE", "Émile", "EMILE", "mile", "éMI", "ÉMI",
		"straße", "STRASSE", "ölsardinen", "ÖLSARDINEN", "grossmann", "großmann",
		"istanbul", "İstanbul", "İST", "ırmak", "IRMAK",
		"café", "cafe\u0301", "CAFE\u0301", "noël", "NOËL", "noel",
		`"hello"`, `"hello" and`, "AND goodbye", "NEAR(x", "a*b", "b^c", "c:d", "-minus", "+plus",
		"0% p", "% pure", "pure_snake", "e_s", `k\s`, `\sl`,
		"日本語", "の本", "村上春樹", "📚📚", "s 📚", "🙂 s",
		"bit hob", "hob bit", "kientolk", "the hobbit j. r. r.", "nothing at all",
		"The Hobbit", " ho", "t h",
	}
	check := func(t *testing.T, owner *uuid.UUID) {
		t.Helper()
		for _, q := range queries {
			var want []string
			for _, b := range sortedBooks(all, bookstore.SortTitle, func(b bookstore.Book) bool {
				return (owner == nil || b.OwnerID == *owner) && scanMatches(b, q)
			}) {
				want = append(want, b.Title)
			}
			got, err := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: owner, Query: q, Sort: bookstore.SortTitle, Limit: 100})
			if err != nil {
				t.Fatalf("q=%q: ListBooks: %v", q, err)
			}
			// The set is under test here, not the order of non-ASCII titles.
			if got := slices.Sorted(slices.Values(bookTitles(got))); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("q=%q: got %q, want %q", q, got, want)
			}
		}
	}
	t.Run("OneOwner", func(t *testing.T) { check(t, &alice.ID) })
	t.Run("EveryOwner", func(t *testing.T) { check(t, nil) })

	t.Run("Pages", func(t *testing.T) {
		for i := range 7 {
			add(alice.ID, fmt.Sprintf("Paged hobbit %d", i), "Anon")
		}
		for _, sort := range bookstore.BookSorts {
			f := bookstore.BookFilter{OwnerID: &alice.ID, Query: "HOBBIT", Sort: sort, Limit: 2}
			want := sortedBooks(all, sort, func(b bookstore.Book) bool { return b.OwnerID == alice.ID && scanMatches(b, "HOBBIT") })
			if got := pageThrough(t, s, f); !slices.Equal(bookIDs(got), bookIDs(want)) {
				t.Errorf("sort %s: got %q, want %q", sort, bookTitles(got), bookTitles(want))
			}
		}
	})

	// The index follows every write: a renamed book is found by its new
	// title only, a deleted one not at all, an update of other fields
	// changes nothing.
	t.Run("FollowsWrites", func(t *testing.T) {
		b := add(alice.ID, "Renamable Original", "Ann Author")
		find := func(q string) []string {
			t.Helper()
			got, err := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &alice.ID, Query: q, Sort: bookstore.SortTitle, Limit: 100})
			if err != nil {
				t.Fatalf("q=%q: ListBooks: %v", q, err)
			}
			return bookTitles(got)
		}
		if got := find("original"); !slices.Equal(got, []string{"Renamable Original"}) {
			t.Fatalf("after create: %q", got)
		}
		if _, err := s.UpdateBook(t.Context(), b.ID, func(b *bookstore.Book) error { b.PriceCents = 5; return nil }); err != nil {
			t.Fatalf("UpdateBook: %v", err)
		}
		if got := find("original"); !slices.Equal(got, []string{"Renamable Original"}) {
			t.Fatalf("after a price change: %q", got)
		}
		if _, err := s.UpdateBook(t.Context(), b.ID, func(b *bookstore.Book) error {
			b.Title, b.Author = "Renamable Sequel", "Bea Writer"
			return nil
		}); err != nil {
			t.Fatalf("UpdateBook: %v", err)
		}
		if got := find("original"); len(got) != 0 {
			t.Fatalf("old title still found: %q", got)
		}
		if got := find("ann author"); len(got) != 0 {
			t.Fatalf("old author still found: %q", got)
		}
		if got := find("SEQUEL"); !slices.Equal(got, []string{"Renamable Sequel"}) {
			t.Fatalf("new title: %q", got)
		}
		if got := find("bea wri"); !slices.Equal(got, []string{"Renamable Sequel"}) {
			t.Fatalf("new author: %q", got)
		}
		if err := s.DeleteBook(t.Context(), b.ID, func(bookstore.Book) error { return nil }); err != nil {
			t.Fatalf("DeleteBook: %v", err)
		}
		if got := find("renamable"); len(got) != 0 {
			t.Fatalf("deleted book still found: %q", got)
		}
	})
}
