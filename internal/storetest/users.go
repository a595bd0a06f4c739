package storetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func testUsers(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("CreateAndFind", func(t *testing.T) {
		s := open(t)
		u := bookstore.User{ID: uuid.New(), Username: "Alice", PasswordHash: someHash, Admin: true, CreatedAt: t0}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		byID, err := s.FindUserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("FindUserByID: %v", err)
		}
		checkUser(t, byID, u)
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			byName, err := s.FindUserByUsername(t.Context(), name)
			if err != nil {
				t.Fatalf("FindUserByUsername(%q): %v", name, err)
			}
			checkUser(t, byName, u)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "alice")
		_, err := s.FindUserByID(t.Context(), uuid.New())
		wantErr(t, err, bookstore.ErrNotFound)
		_, err = s.FindUserByUsername(t.Context(), "alic")
		wantErr(t, err, bookstore.ErrNotFound)
		_, err = s.SetUserAdmin(t.Context(), uuid.New(), true)
		wantErr(t, err, bookstore.ErrNotFound)
		wantErr(t, s.SetPasswordHash(t.Context(), uuid.New(), someHash, "x"), bookstore.ErrConflict)
		wantErr(t, s.ChangePassword(t.Context(), uuid.New(), "x", uuid.New(), t0), bookstore.ErrNotFound)
		wantErr(t, s.DeleteUser(t.Context(), uuid.New()), bookstore.ErrNotFound)
	})

	t.Run("UsernameTakenCaseInsensitively", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "alice")
		for _, name := range []string{"alice", "Alice", "ALICE"} {
			u := bookstore.User{ID: uuid.New(), Username: name, PasswordHash: someHash, CreatedAt: t0}
			wantErr(t, s.CreateUser(t.Context(), u), bookstore.ErrConflict)
		}
		mustCreateUser(t, s, "alice2")
	})

	t.Run("SetUserAdmin", func(t *testing.T) {
		s := open(t)
		if _, err := s.SetUserAdmin(t.Context(), mustCreateUser(t, s, "root").ID, true); err != nil {
			t.Fatalf("SetUserAdmin: %v", err)
		}
		u := mustCreateUser(t, s, "alice")
		got, err := s.SetUserAdmin(t.Context(), u.ID, true)
		if err != nil {
			t.Fatalf("SetUserAdmin: %v", err)
		}
		u.Admin = true
		checkUser(t, got, u)
		found, _ := s.FindUserByID(t.Context(), u.ID)
		checkUser(t, found, u)
		if got, _ = s.SetUserAdmin(t.Context(), u.ID, false); got.Admin {
			t.Fatal("SetUserAdmin(false) left Admin true")
		}
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		wantErr(t, s.SetPasswordHash(t.Context(), u.ID, "not-the-hash", "new-hash"), bookstore.ErrConflict)
		if got, _ := s.FindUserByID(t.Context(), u.ID); got.PasswordHash != someHash {
			t.Fatalf("a rehash of another hash replaced it: %q", got.PasswordHash)
		}
		if err := s.SetPasswordHash(t.Context(), u.ID, someHash, "new-hash"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		got, _ := s.FindUserByID(t.Context(), u.ID)
		if got.PasswordHash != "new-hash" {
			t.Fatalf("PasswordHash = %q", got.PasswordHash)
		}
		// The hash alone: sessions stay.
		if _, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, t0); err != nil {
			t.Fatalf("AuthenticateSession after SetPasswordHash: %v", err)
		}
	})

	t.Run("ChangePasswordRevokesOtherSessions", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		keep := mustCreateSession(t, s, u.ID, t0, "keep")
		drop1 := mustCreateSession(t, s, u.ID, t0.Add(time.Second), "drop1")
		drop2 := mustCreateSession(t, s, u.ID, t0.Add(2*time.Second), "drop2")
		bobs := mustCreateSession(t, s, other.ID, t0, "bob")

		now := t0.Add(time.Minute)
		if err := s.ChangePassword(t.Context(), u.ID, "new-hash", keep.ID, now); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		got, _ := s.FindUserByID(t.Context(), u.ID)
		if got.PasswordHash != "new-hash" {
			t.Fatalf("PasswordHash = %q", got.PasswordHash)
		}
		if _, err := s.AuthenticateSession(t.Context(), keep.ID, u.ID, now); err != nil {
			t.Fatalf("kept session: %v", err)
		}
		for _, d := range []bookstore.Session{drop1, drop2} {
			_, err := s.AuthenticateSession(t.Context(), d.ID, u.ID, now)
			wantErr(t, err, bookstore.ErrUnauthorized)
		}
		_, err := s.RotateRefreshToken(t.Context(), refreshHash("drop1"), refreshHash("drop1b"), now)
		wantErr(t, err, bookstore.ErrUnauthorized)
		live, _ := s.ListSessions(t.Context(), u.ID, now)
		if len(live) != 1 || live[0].ID != keep.ID {
			t.Fatalf("live sessions = %v, want only %v", sessionIDs(live), keep.ID)
		}
		if _, err := s.AuthenticateSession(t.Context(), bobs.ID, other.ID, now); err != nil {
			t.Fatalf("another user's session: %v", err)
		}
	})

	t.Run("DeleteUserCascades", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		book := mustCreateBook(t, s, newBook(u.ID, "Dune"))
		keyed := newBook(u.ID, "Emma")
		key := &bookstore.IdempotencyKey{Key: "k1", Fingerprint: []byte("fp1")}
		if _, err := s.CreateBook(t.Context(), keyed, key); err != nil {
			t.Fatalf("CreateBook with key: %v", err)
		}
		otherBook := mustCreateBook(t, s, newBook(other.ID, "Dune"))
		otherSess := mustCreateSession(t, s, other.ID, t0, "r2")

		if err := s.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		_, err := s.FindUserByID(t.Context(), u.ID)
		wantErr(t, err, bookstore.ErrNotFound)
		_, err = s.FindBookByID(t.Context(), book.ID)
		wantErr(t, err, bookstore.ErrNotFound)
		_, err = s.AuthenticateSession(t.Context(), sess.ID, u.ID, t0)
		wantErr(t, err, bookstore.ErrUnauthorized)
		_, err = s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r1b"), t0)
		wantErr(t, err, bookstore.ErrUnauthorized)
		if live, _ := s.ListSessions(t.Context(), u.ID, t0); len(live) != 0 {
			t.Fatalf("sessions of a deleted user: %v", sessionIDs(live))
		}
		all, _ := s.ListBooks(t.Context(), bookstore.BookFilter{Limit: 100})
		if len(all) != 1 || all[0].ID != otherBook.ID {
			t.Fatalf("books left = %v, want only the other user's", bookTitles(all))
		}
		if _, err := s.AuthenticateSession(t.Context(), otherSess.ID, other.ID, t0); err != nil {
			t.Fatalf("another user's session: %v", err)
		}

		// The idempotency key went too: the same id and key start afresh.
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser again: %v", err)
		}
		again := newBook(u.ID, "Persuasion")
		got, err := s.CreateBook(t.Context(), again, &bookstore.IdempotencyKey{Key: "k1", Fingerprint: []byte("fp2")})
		if err != nil {
			t.Fatalf("CreateBook with the old key: %v", err)
		}
		if got.ID != again.ID {
			t.Fatalf("CreateBook returned %v, want the new book %v", got.ID, again.ID)
		}
	})

	t.Run("ListUsers", func(t *testing.T) {
		s := open(t)
		var users []bookstore.User
		for _, name := range []string{"alice", "Bob", "carol", "a_b", "a%b", "axb", "dave"} {
			users = append(users, mustCreateUser(t, s, name))
		}
		byName := func(names ...string) []string { return names }
		tests := []struct {
			name  string
			query string
			want  []string
		}{
			{"all", "", byName("a%b", "a_b", "alice", "axb", "Bob", "carol", "dave")},
			{"substring case-insensitive", "A", byName("a%b", "a_b", "alice", "axb", "carol", "dave")},
			{"upper query", "BO", byName("Bob")},
			{"literal percent", "%", byName("a%b")},
			{"literal underscore", "_", byName("a_b")},
			{"no match", "zz", nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for _, size := range []int{1, 2, 100} {
					var got []string
					var after *bookstore.User
					for range len(users) + 2 {
						page, err := s.ListUsers(t.Context(), bookstore.UserFilter{Query: tc.query, After: after, Limit: size})
						if err != nil {
							t.Fatalf("ListUsers: %v", err)
						}
						for _, u := range page {
							got = append(got, u.Username)
						}
						if len(page) < size {
							break
						}
						last := page[len(page)-1]
						after = &bookstore.User{ID: last.ID, Username: last.Username}
					}
					if !slices.Equal(got, tc.want) {
						t.Fatalf("page size %d: got %q, want %q", size, got, tc.want)
					}
				}
			})
		}
	})
}

func checkUser(t *testing.T, got, want bookstore.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.PasswordHash != want.PasswordHash ||
		got.Admin != want.Admin || !got.CreatedAt.Equal(want.CreatedAt) || got.PasswordChangeRequired != want.PasswordChangeRequired {
		t.Fatalf("user = %+v, want %+v", got, want)
	}
}

func sessionIDs(ss []bookstore.Session) []uuid.UUID {
	ids := make([]uuid.UUID, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

func bookTitles(bs []bookstore.Book) []string {
	titles := make([]string, len(bs))
	for i, b := range bs {
		titles[i] = b.Title
	}
	return titles
}

// compareIDs orders UUIDs as both SQLite (text) and PostgreSQL (uuid) do.
func compareIDs(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// foldCompare orders strings as a case-insensitive ASCII collation does.
func foldCompare(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
