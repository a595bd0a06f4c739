// Package storetest is the contract of bookstore.Store: every database
// adapter runs Run against a real database of its kind. The tests speak only
// domain types and errors, so they hold for SQLite and PostgreSQL alike.
package storetest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Run checks every method of the store. open must return a new, migrated,
// empty store on each call and close it when t ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("RefreshTokens", func(t *testing.T) { testRefreshTokens(t, open) })
	t.Run("Books", func(t *testing.T) { testBooks(t, open) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open) })
	t.Run("ListBooks", func(t *testing.T) { testListBooks(t, open) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open) })
	t.Run("Admins", func(t *testing.T) { testAdmins(t, open) })
}

// t0 is the tests' "now". Stores keep milliseconds, so every time used
// here is whole milliseconds.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 8_000_000, time.UTC)

const someHash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g"

func mustCreateUser(t *testing.T, s bookstore.Store, username string) bookstore.User {
	t.Helper()
	u := bookstore.User{ID: uuid.New(), Username: username, PasswordHash: someHash, CreatedAt: t0}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// mustCreateSession creates a session of userID made (and logged in) at
// created and valid for a day, with the refresh token refreshHash(token).
func mustCreateSession(t *testing.T, s bookstore.Store, userID uuid.UUID, created time.Time, token string) bookstore.Session {
	t.Helper()
	u, err := s.FindUserByID(t.Context(), userID)
	if err != nil {
		t.Fatalf("FindUserByID: %v", err)
	}
	sess := bookstore.Session{
		ID:         uuid.New(),
		UserID:     userID,
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(24 * time.Hour),
		AuthTime:   created,
		UserAgent:  "storetest/1.0",
		IP:         "192.0.2.1",
	}
	if err := s.CreateSession(t.Context(), sess, refreshHash(token), u.CredentialVersion); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func refreshHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func newBook(owner uuid.UUID, title string) bookstore.Book {
	return bookstore.Book{
		ID:         uuid.New(),
		OwnerID:    owner,
		Title:      title,
		Author:     "Some Author",
		Publisher:  "Some Publisher",
		PriceCents: 1999,
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
}

func mustCreateBook(t *testing.T, s bookstore.Store, b bookstore.Book) bookstore.Book {
	t.Helper()
	got, err := s.CreateBook(t.Context(), b, nil)
	if err != nil {
		t.Fatalf("CreateBook(%q): %v", b.Title, err)
	}
	return got
}

// wantErr fails unless err is of kind. Errors a client may see must carry a
// message meant for it: a *bookstore.Error with a Message.
func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	if de, ok := errors.AsType[*bookstore.Error](err); !ok || de.Message == "" {
		t.Fatalf("err = %v: want a *bookstore.Error with a client message", err)
	}
}

func ptr[T any](v T) *T { return &v }
