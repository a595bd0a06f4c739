package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func testBooks(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("CreateAndFind", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		full := newBook(u.ID, "The Left Hand of Darkness")
		full.ISBN = ptr("9780441478125")
		full.PublishedYear = ptr(1969)
		full.UpdatedAt = t0.Add(time.Second)
		bare := newBook(u.ID, "Untitled")
		for _, b := range []bookstore.Book{full, bare} {
			b.Version = 42 // the store starts every book at 1
			got, err := s.CreateBook(t.Context(), b, nil)
			if err != nil {
				t.Fatalf("CreateBook: %v", err)
			}
			b.Version = 1
			checkBook(t, got, b)
			found, err := s.FindBookByID(t.Context(), b.ID)
			if err != nil {
				t.Fatalf("FindBookByID: %v", err)
			}
			checkBook(t, found, b)
		}
		_, err := s.FindBookByID(t.Context(), uuid.New())
		wantErr(t, err, bookstore.ErrNotFound)
	})

	t.Run("CreateForUnknownOwner", func(t *testing.T) {
		s := open(t)
		_, err := s.CreateBook(t.Context(), newBook(uuid.New(), "Orphan"), nil)
		wantErr(t, err, bookstore.ErrNotFound)
	})

	t.Run("ISBNUniquePerOwner", func(t *testing.T) {
		s := open(t)
		alice := mustCreateUser(t, s, "alice")
		bob := mustCreateUser(t, s, "bob")
		withISBN := func(owner uuid.UUID, isbn string) bookstore.Book {
			b := newBook(owner, "Book "+isbn)
			b.ISBN = &isbn
			return b
		}
		mustCreateBook(t, s, withISBN(alice.ID, "9780000000001"))
		_, err := s.CreateBook(t.Context(), withISBN(alice.ID, "9780000000001"), nil)
		wantErr(t, err, bookstore.ErrConflict)
		mustCreateBook(t, s, withISBN(bob.ID, "9780000000001")) // another owner
		mustCreateBook(t, s, withISBN(alice.ID, "9780000000002"))
		mustCreateBook(t, s, newBook(alice.ID, "No ISBN 1")) // any number without one
		mustCreateBook(t, s, newBook(alice.ID, "No ISBN 2"))

		second, _ := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &alice.ID, Query: "9780000000002", Limit: 10})
		if len(second) != 1 {
			t.Fatalf("setup: %v", bookTitles(second))
		}
		_, err = s.UpdateBook(t.Context(), second[0].ID, func(b *bookstore.Book) error {
			b.ISBN = ptr("9780000000001")
			return nil
		})
		wantErr(t, err, bookstore.ErrConflict)
	})

	t.Run("UpdateBook", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		orig := mustCreateBook(t, s, newBook(u.ID, "Draft"))
		later := t0.Add(time.Hour)
		want := orig
		for v := int64(2); v <= 3; v++ {
			got, err := s.UpdateBook(t.Context(), orig.ID, func(b *bookstore.Book) error {
				if b.Version != v-1 {
					return fmt.Errorf("change saw version %d, want %d", b.Version, v-1)
				}
				b.Title = fmt.Sprintf("Final %d", v)
				b.Author = "New Author"
				b.Publisher = "New Publisher"
				b.PriceCents = 500 + v
				b.ISBN = ptr("9781234567897")
				b.PublishedYear = ptr(2001)
				b.UpdatedAt = later
				// Not the change func's to decide:
				b.ID, b.OwnerID, b.CreatedAt, b.Version = uuid.New(), uuid.New(), later, 99
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateBook: %v", err)
			}
			want.Title, want.Author, want.Publisher = fmt.Sprintf("Final %d", v), "New Author", "New Publisher"
			want.PriceCents, want.ISBN, want.PublishedYear = 500+v, ptr("9781234567897"), ptr(2001)
			want.UpdatedAt, want.Version = later, v
			checkBook(t, got, want)
			found, _ := s.FindBookByID(t.Context(), orig.ID)
			checkBook(t, found, want)
		}

		// Clearing the optional fields.
		got, err := s.UpdateBook(t.Context(), orig.ID, func(b *bookstore.Book) error {
			b.ISBN, b.PublishedYear = nil, nil
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateBook: %v", err)
		}
		want.ISBN, want.PublishedYear, want.Version = nil, nil, 4
		checkBook(t, got, want)
	})

	t.Run("UpdateBookAborts", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		orig := mustCreateBook(t, s, newBook(u.ID, "Draft"))
		errNo := errors.New("no, thanks")
		_, err := s.UpdateBook(t.Context(), orig.ID, func(b *bookstore.Book) error {
			b.Title = "Changed"
			return errNo
		})
		if err != errNo {
			t.Fatalf("err = %v, want the change func's error as is", err)
		}
		precondition := bookstore.Errorf(bookstore.ErrPreconditionFailed, "version mismatch")
		_, err = s.UpdateBook(t.Context(), orig.ID, func(*bookstore.Book) error { return precondition })
		if err != error(precondition) {
			t.Fatalf("err = %v, want the change func's error as is", err)
		}
		found, _ := s.FindBookByID(t.Context(), orig.ID)
		checkBook(t, found, orig)

		called := false
		_, err = s.UpdateBook(t.Context(), uuid.New(), func(*bookstore.Book) error { called = true; return nil })
		wantErr(t, err, bookstore.ErrNotFound)
		if called {
			t.Fatal("change called for a missing book")
		}
	})

	t.Run("DeleteBook", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		b := mustCreateBook(t, s, newBook(u.ID, "Doomed"))
		errNo := errors.New("not yours")
		if err := s.DeleteBook(t.Context(), b.ID, func(got bookstore.Book) error {
			checkBook(t, got, b)
			return errNo
		}); err != errNo {
			t.Fatalf("err = %v, want the check's error as is", err)
		}
		if _, err := s.FindBookByID(t.Context(), b.ID); err != nil {
			t.Fatalf("book gone after a refused delete: %v", err)
		}
		if err := s.DeleteBook(t.Context(), b.ID, func(bookstore.Book) error { return nil }); err != nil {
			t.Fatalf("DeleteBook: %v", err)
		}
		_, err := s.FindBookByID(t.Context(), b.ID)
		wantErr(t, err, bookstore.ErrNotFound)
		wantErr(t, s.DeleteBook(t.Context(), b.ID, func(bookstore.Book) error { return nil }), bookstore.ErrNotFound)
	})

	t.Run("ConcurrentCreates", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		ids := make(map[uuid.UUID]bool)
		books := make([]bookstore.Book, n)
		for i := range books {
			books[i] = newBook(u.ID, fmt.Sprintf("Book %02d", i))
			ids[books[i].ID] = true
		}
		for _, b := range books {
			wg.Go(func() {
				_, err := s.CreateBook(t.Context(), b, &bookstore.IdempotencyKey{Key: b.ID.String(), Fingerprint: []byte("fp")})
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
		got, err := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &u.ID, Limit: 2 * n})
		if err != nil {
			t.Fatalf("ListBooks: %v", err)
		}
		if len(got) != n {
			t.Fatalf("%d books stored, want %d", len(got), n)
		}
		for _, b := range got {
			if !ids[b.ID] {
				t.Fatalf("unexpected book %v", b.ID)
			}
		}
	})
}

func testIdempotency(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("SameKeySameRequest", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		key := &bookstore.IdempotencyKey{Key: "key-1", Fingerprint: []byte("body-1")}
		first := newBook(u.ID, "Dune")
		created, err := s.CreateBook(t.Context(), first, key)
		if err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		retry := newBook(u.ID, "Dune") // a new id, as a retried request would make
		retry.CreatedAt = t0.Add(time.Hour)
		again, err := s.CreateBook(t.Context(), retry, key)
		if err != nil {
			t.Fatalf("CreateBook retry: %v", err)
		}
		checkBook(t, again, created)
		all, _ := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &u.ID, Limit: 10})
		if len(all) != 1 {
			t.Fatalf("books = %v, want one", bookTitles(all))
		}
	})

	t.Run("SameKeyOtherRequest", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		if _, err := s.CreateBook(t.Context(), newBook(u.ID, "Dune"), &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("a")}); err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		_, err := s.CreateBook(t.Context(), newBook(u.ID, "Emma"), &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("b")})
		wantErr(t, err, bookstore.ErrConflict)
		all, _ := s.ListBooks(t.Context(), bookstore.BookFilter{OwnerID: &u.ID, Limit: 10})
		if len(all) != 1 {
			t.Fatalf("books = %v, want one", bookTitles(all))
		}
	})

	t.Run("KeysArePerOwner", func(t *testing.T) {
		s := open(t)
		alice := mustCreateUser(t, s, "alice")
		bob := mustCreateUser(t, s, "bob")
		key := &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("a")}
		a, err := s.CreateBook(t.Context(), newBook(alice.ID, "Dune"), key)
		if err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		b, err := s.CreateBook(t.Context(), newBook(bob.ID, "Dune"), key)
		if err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		if a.ID == b.ID || b.OwnerID != bob.ID {
			t.Fatalf("bob got %+v", b)
		}
	})

	t.Run("BookDeletedSince", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		key := &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("a")}
		b, err := s.CreateBook(t.Context(), newBook(u.ID, "Dune"), key)
		if err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		if err := s.DeleteBook(t.Context(), b.ID, func(bookstore.Book) error { return nil }); err != nil {
			t.Fatalf("DeleteBook: %v", err)
		}
		_, err = s.CreateBook(t.Context(), newBook(u.ID, "Dune"), key)
		wantErr(t, err, bookstore.ErrConflict)
	})

	t.Run("FailedCreateKeepsNoKey", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		taken := newBook(u.ID, "First")
		taken.ISBN = ptr("9780000000001")
		mustCreateBook(t, s, taken)
		dup := newBook(u.ID, "Second")
		dup.ISBN = taken.ISBN
		_, err := s.CreateBook(t.Context(), dup, &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("a")})
		wantErr(t, err, bookstore.ErrConflict)
		// The key was not stored with the failed create: a corrected
		// request may use it.
		fixed := newBook(u.ID, "Second")
		got, err := s.CreateBook(t.Context(), fixed, &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("b")})
		if err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		if got.ID != fixed.ID {
			t.Fatalf("got book %v, want %v", got.ID, fixed.ID)
		}
	})

	t.Run("KeysExpireAfterADay", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		first := newBook(u.ID, "Dune")
		if _, err := s.CreateBook(t.Context(), first, &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("a")}); err != nil {
			t.Fatalf("CreateBook: %v", err)
		}
		within := newBook(u.ID, "Emma")
		within.CreatedAt = t0.Add(23 * time.Hour)
		_, err := s.CreateBook(t.Context(), within, &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("b")})
		wantErr(t, err, bookstore.ErrConflict)

		later := newBook(u.ID, "Emma")
		later.CreatedAt = t0.Add(25 * time.Hour)
		got, err := s.CreateBook(t.Context(), later, &bookstore.IdempotencyKey{Key: "k", Fingerprint: []byte("b")})
		if err != nil {
			t.Fatalf("CreateBook after expiry: %v", err)
		}
		if got.ID != later.ID {
			t.Fatalf("got book %v, want the new one %v", got.ID, later.ID)
		}
	})
}

// checkBook compares every field; times by instant.
func checkBook(t *testing.T, got, want bookstore.Book) {
	t.Helper()
	if bookString(got) != bookString(want) {
		t.Fatalf("book =\n  %s\nwant\n  %s", bookString(got), bookString(want))
	}
}

func bookString(b bookstore.Book) string {
	isbn, year := "<nil>", "<nil>"
	if b.ISBN != nil {
		isbn = *b.ISBN
	}
	if b.PublishedYear != nil {
		year = fmt.Sprint(*b.PublishedYear)
	}
	return fmt.Sprintf("id=%v owner=%v title=%q author=%q publisher=%q price=%d isbn=%s year=%s version=%d created=%s updated=%s",
		b.ID, b.OwnerID, b.Title, b.Author, b.Publisher, b.PriceCents, isbn, year, b.Version,
		b.CreatedAt.UTC().Format(time.RFC3339Nano), b.UpdatedAt.UTC().Format(time.RFC3339Nano))
}
