package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// RowCounter counts a table's rows. It is no part of bookstore.Store: each
// adapter provides it in its test build (export_test.go), so the contract
// can check what a store keeps, not only what it answers.
type RowCounter interface {
	CountRows(ctx context.Context, table string) (int64, error)
}

func countRows(t *testing.T, s bookstore.Store, table string) int64 {
	t.Helper()
	c, ok := s.(RowCounter)
	if !ok {
		t.Fatalf("%T does not implement storetest.RowCounter in its tests", s)
	}
	n, err := c.CountRows(t.Context(), table)
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func testLifecycle(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("TenThousandRefreshesStayBounded", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r0")
		const n = 10_000
		for i := range n {
			now := t0.Add(time.Duration(i+1) * time.Millisecond)
			if _, err := s.RotateRefreshToken(t.Context(), refreshHash(fmt.Sprint("r", i)), refreshHash(fmt.Sprint("r", i+1)), now); err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
		}
		// The live token and the newest spent ones, whatever the count of
		// refreshes; no purge has run.
		if got, want := countRows(t, s, "refresh_tokens"), int64(bookstore.SpentRefreshTokensKept+1); got != want {
			t.Errorf("%d refreshes left %d refresh_tokens rows, want %d", n, got, want)
		}
		if got := countRows(t, s, "sessions"); got != 1 {
			t.Errorf("%d sessions rows, want 1", got)
		}
		// The newest spent token is still recognised as reuse ...
		later := t0.Add(time.Hour)
		_, err := s.RotateRefreshToken(t.Context(), refreshHash(fmt.Sprint("r", n-1)), refreshHash("x"), later)
		wantErr(t, err, bookstore.ErrRefreshReused)
		// ... and one beyond the kept ones is simply unknown.
		_, err = s.RotateRefreshToken(t.Context(), refreshHash("r0"), refreshHash("y"), later)
		if errors.Is(err, bookstore.ErrRefreshReused) {
			t.Error("a token beyond the kept ones was recognised as reuse: it was not deleted")
		}
		wantErr(t, err, bookstore.ErrUnauthorized)
		if err := s.RevokeSession(t.Context(), u.ID, sess.ID, later); !errors.Is(err, bookstore.ErrNotFound) {
			t.Errorf("the session is still live after the reuse: %v", err)
		}
	})

	t.Run("PurgeSessions", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		retention := time.Hour
		// t0 + a day is when the sessions below expire.
		mustCreateSession(t, s, u.ID, t0, "expired")
		revokedLongAgo := mustCreateSession(t, s, u.ID, t0.Add(25*time.Hour), "revoked-long-ago")
		revokedRecently := mustCreateSession(t, s, u.ID, t0.Add(25*time.Hour), "revoked-recently")
		mustCreateSession(t, s, u.ID, t0.Add(25*time.Hour), "live-0")
		now := t0.Add(30 * time.Hour)
		if err := s.RevokeSession(t.Context(), u.ID, revokedLongAgo.ID, t0.Add(26*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(t.Context(), u.ID, revokedRecently.ID, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		// The live session refreshed twice: once long ago, once just now.
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("live-0"), refreshHash("live-1"), t0.Add(26*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("live-1"), refreshHash("live-2"), now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		before := now.Add(-retention)
		var sessions, tokens int64
		for {
			ns, nt, err := s.PurgeSessions(t.Context(), before, 1) // a batch of one: the loop is what callers do
			if err != nil {
				t.Fatalf("PurgeSessions: %v", err)
			}
			sessions, tokens = sessions+ns, tokens+nt
			if ns < 1 && nt < 1 {
				break
			}
		}
		// The expired and the long-revoked sessions go (with their one token
		// each); the long-spent token of the live session goes.
		if sessions != 2 || tokens != 1 {
			t.Errorf("purged %d sessions and %d tokens, want 2 and 1", sessions, tokens)
		}
		if got := countRows(t, s, "sessions"); got != 2 {
			t.Errorf("%d sessions left, want the recently revoked and the live one", got)
		}
		// live-2 (current), live-1 (spent a minute ago), revoked-recently's.
		if got := countRows(t, s, "refresh_tokens"); got != 3 {
			t.Errorf("%d refresh tokens left, want 3", got)
		}
		// What is left works as before: the recent spent token is reuse.
		_, err := s.RotateRefreshToken(t.Context(), refreshHash("live-1"), refreshHash("z"), now)
		wantErr(t, err, bookstore.ErrRefreshReused)
	})

	t.Run("RevokeExcessSessions", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		var made []bookstore.Session
		for i := range 5 {
			made = append(made, mustCreateSession(t, s, u.ID, t0.Add(time.Duration(i)*time.Minute), fmt.Sprint("s", i)))
		}
		bobs := mustCreateSession(t, s, other.ID, t0, "bob")
		now := t0.Add(time.Hour)
		// One already ended does not count against the cap.
		if err := s.RevokeSession(t.Context(), u.ID, made[4].ID, now); err != nil {
			t.Fatal(err)
		}
		n, err := s.RevokeExcessSessions(t.Context(), u.ID, 2, now)
		if err != nil || n != 2 {
			t.Fatalf("RevokeExcessSessions = %d, %v; want 2 (the oldest)", n, err)
		}
		live, err := s.ListSessions(t.Context(), u.ID, now)
		if err != nil || len(live) != 2 || live[0].ID != made[3].ID || live[1].ID != made[2].ID {
			t.Errorf("live after the cap: %v, %v; want the two newest live ones", sessionIDs(live), err)
		}
		if bob, _ := s.ListSessions(t.Context(), other.ID, now); len(bob) != 1 || bob[0].ID != bobs.ID {
			t.Error("another user's session was ended")
		}
		if n, err := s.RevokeExcessSessions(t.Context(), u.ID, 2, now); err != nil || n != 0 {
			t.Errorf("again = %d, %v; want 0", n, err)
		}
	})

	t.Run("ImportUser", func(t *testing.T) {
		s := open(t)
		u := bookstore.User{ID: uuid.New(), Username: "imported", PasswordHash: someHash, CreatedAt: t0, PasswordChangeRequired: true}
		created, err := s.ImportUser(t.Context(), u, "seed", "user:1", t0)
		if err != nil || !created {
			t.Fatalf("ImportUser = %v, %v; want created", created, err)
		}
		got, err := s.FindUserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkUser(t, got, u)
		if !got.PasswordChangeRequired {
			t.Error("PasswordChangeRequired was not stored")
		}
		// Deleted here: the record outlives it, and a second import of the
		// same source id creates nothing.
		if err := s.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		if created, err := s.ImportUser(t.Context(), u, "seed", "user:1", t0.Add(time.Hour)); err != nil || created {
			t.Fatalf("ImportUser again = %v, %v; want nothing created", created, err)
		}
		if _, err := s.FindUserByID(t.Context(), u.ID); !errors.Is(err, bookstore.ErrNotFound) {
			t.Errorf("the deleted user is back: %v", err)
		}
		// A taken username records nothing: a later import may still come.
		mustCreateUser(t, s, "taken")
		clash := bookstore.User{ID: uuid.New(), Username: "TAKEN", PasswordHash: someHash, CreatedAt: t0}
		_, err = s.ImportUser(t.Context(), clash, "seed", "user:2", t0)
		wantErr(t, err, bookstore.ErrConflict)
		clash.Username = "free"
		if created, err := s.ImportUser(t.Context(), clash, "seed", "user:2", t0); err != nil || !created {
			t.Errorf("import after a conflict = %v, %v; want created", created, err)
		}
		// Another source's id of the same text is another account.
		other := bookstore.User{ID: uuid.New(), Username: "other", PasswordHash: someHash, CreatedAt: t0}
		if created, err := s.ImportUser(t.Context(), other, "another-seed", "user:1", t0); err != nil || !created {
			t.Errorf("another source = %v, %v; want created", created, err)
		}
	})

	t.Run("PasswordChangeRequired", func(t *testing.T) {
		s := open(t)
		u := bookstore.User{ID: uuid.New(), Username: "flagged", PasswordHash: someHash, CreatedAt: t0, PasswordChangeRequired: true}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		sess := mustCreateSession(t, s, u.ID, t0, "r")
		p, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, t0)
		if err != nil || !p.PasswordChangeRequired {
			t.Fatalf("AuthenticateSession = %+v, %v; want the flag", p, err)
		}
		// A rehash keeps the flag; a changed password clears it.
		if err := s.SetPasswordHash(t.Context(), u.ID, someHash, someHash+"x"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindUserByID(t.Context(), u.ID); !got.PasswordChangeRequired {
			t.Error("a rehash cleared the flag")
		}
		if err := s.ChangePassword(t.Context(), u.ID, someHash+"y", sess.ID, t0); err != nil {
			t.Fatal(err)
		}
		if p, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, t0); err != nil || p.PasswordChangeRequired {
			t.Errorf("after ChangePassword = %+v, %v; want the flag cleared", p, err)
		}
		if err := s.SetPasswordChangeRequired(t.Context(), u.ID, true); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindUserByID(t.Context(), u.ID); !got.PasswordChangeRequired {
			t.Error("SetPasswordChangeRequired(true) did not set it")
		}
		if err := s.SetPasswordChangeRequired(t.Context(), u.ID, false); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindUserByID(t.Context(), u.ID); got.PasswordChangeRequired {
			t.Error("SetPasswordChangeRequired(false) did not clear it")
		}
		wantErr(t, s.SetPasswordChangeRequired(t.Context(), uuid.New(), true), bookstore.ErrNotFound)
	})
}
