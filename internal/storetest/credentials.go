package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// raceRounds is how many times each race is run: interleavings differ from
// round to round.
const raceRounds = 5

// raceLogins is how many logins are in flight during a credential change.
const raceLogins = 8

// testCredentials checks that credential changes win every race with a
// login (issue 15): a session is created only under the credential version
// its login read with the hash it verified.
func testCredentials(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("CredentialVersionMoves", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		version := func() int64 {
			got, err := s.FindUserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("FindUserByID: %v", err)
			}
			return got.CredentialVersion
		}
		v0 := version()
		if err := s.SetPasswordHash(t.Context(), u.ID, someHash, "rehashed"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		if version() != v0 {
			t.Fatal("a rehash moved the credential version: it would end a login in flight for nothing")
		}
		if err := s.ChangePassword(t.Context(), u.ID, "new", uuid.Nil, t0); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		v1 := version()
		if v1 == v0 {
			t.Fatal("ChangePassword left the credential version")
		}
		if err := s.RevokeUserSessions(t.Context(), u.ID, t0); err != nil {
			t.Fatalf("RevokeUserSessions: %v", err)
		}
		if version() == v1 {
			t.Fatal("RevokeUserSessions left the credential version")
		}
		wantErr(t, s.RevokeUserSessions(t.Context(), uuid.New(), t0), bookstore.ErrNotFound)

		stale := newSession(u.ID)
		err := s.CreateSession(t.Context(), stale, refreshHash("stale"), v0)
		wantErr(t, err, bookstore.ErrUnauthorized)
		if !errors.Is(err, bookstore.ErrCredentialChanged) {
			t.Fatalf("err = %v, want ErrCredentialChanged", err)
		}
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("stale"), refreshHash("stale2"), t0); !errors.Is(err, bookstore.ErrUnauthorized) {
			t.Fatalf("the refused session's refresh token was stored: %v", err)
		}
		if err := s.CreateSession(t.Context(), newSession(u.ID), refreshHash("fresh"), version()); err != nil {
			t.Fatalf("CreateSession with the current version: %v", err)
		}
	})

	t.Run("ChangeFromAnEndedSessionIsRefused", func(t *testing.T) {
		// A change checks the current password, hashes the new one, then
		// commits; an admin's reset committed in between ended the session
		// it came from, and must not be undone by it.
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		if err := s.ChangePassword(t.Context(), u.ID, "admin's reset", uuid.Nil, t0); err != nil {
			t.Fatalf("ChangePassword (the admin's): %v", err)
		}
		err := s.ChangePassword(t.Context(), u.ID, "the session's", sess.ID, t0)
		if !errors.Is(err, bookstore.ErrSessionEndedDuringChange) {
			t.Fatalf("a change from an ended session: err = %v, want ErrSessionEndedDuringChange", err)
		}
		got, err := s.FindUserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash != "admin's reset" {
			t.Fatalf("password hash = %q: the ended session's change undid the reset", got.PasswordHash)
		}
		live := mustCreateSession(t, s, u.ID, t0, "r2")
		if err := s.ChangePassword(t.Context(), u.ID, "the live session's", live.ID, t0); err != nil {
			t.Fatalf("a change from a live session: %v", err)
		}
	})

	t.Run("AuthTimeSurvivesRefresh", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		got, err := s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r2"), t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		if !got.AuthTime.Equal(sess.AuthTime) {
			t.Fatalf("AuthTime after refresh = %v, want the login's %v", got.AuthTime, sess.AuthTime)
		}
	})

	t.Run("ReuseNamesTheSession", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r2"), t0); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		got, err := s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r3"), t0)
		wantErr(t, err, bookstore.ErrRefreshReused)
		if got.ID != sess.ID || got.UserID != u.ID {
			t.Fatalf("reuse returned session %v of user %v, want %v of %v", got.ID, got.UserID, sess.ID, u.ID)
		}
	})

	// Each change runs while raceLogins logins that read the user before it
	// insert their sessions; none of those sessions may stay live.
	changes := []struct {
		name   string
		change func(s bookstore.Store, u bookstore.User) error
	}{
		{"ChangePassword", func(s bookstore.Store, u bookstore.User) error {
			return s.ChangePassword(t.Context(), u.ID, "new-hash", uuid.Nil, t0)
		}},
		{"RevokeUserSessions", func(s bookstore.Store, u bookstore.User) error {
			return s.RevokeUserSessions(t.Context(), u.ID, t0)
		}},
		{"DeleteUser", func(s bookstore.Store, u bookstore.User) error {
			return s.DeleteUser(t.Context(), u.ID)
		}},
	}
	for _, c := range changes {
		t.Run("LoginsRacing"+c.name, func(t *testing.T) {
			s := open(t)
			for round := range raceRounds {
				u := mustCreateUser(t, s, "user"+string(rune('a'+round)))
				read, err := s.FindUserByID(t.Context(), u.ID) // what each login verified
				if err != nil {
					t.Fatal(err)
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				created := make(chan uuid.UUID, raceLogins)
				for i := range raceLogins {
					wg.Go(func() {
						<-start
						sess := newSession(u.ID)
						err := s.CreateSession(t.Context(), sess, refreshHash(sess.ID.String()+string(rune(i))), read.CredentialVersion)
						switch {
						case err == nil:
							created <- sess.ID
						case !errors.Is(err, bookstore.ErrUnauthorized):
							t.Errorf("CreateSession: %v", err)
						}
					})
				}
				wg.Go(func() {
					<-start
					if err := c.change(s, u); err != nil {
						t.Errorf("%s: %v", c.name, err)
					}
				})
				close(start)
				wg.Wait()
				close(created)
				for id := range created {
					if _, err := s.AuthenticateSession(t.Context(), id, u.ID, t0); err == nil {
						t.Fatalf("round %d: session %v survived %s", round, id, c.name)
					}
				}
				if live, _ := s.ListSessions(t.Context(), u.ID, t0); len(live) != 0 {
					t.Fatalf("round %d: %d sessions survived %s", round, len(live), c.name)
				}
			}
		})
	}
}

// testAdmins checks the at-least-one-admin rule (issue 9) and the first
// admin's bootstrap (issue 15).
func testAdmins(t *testing.T, open func(t *testing.T) bookstore.Store) {
	makeAdmin := func(t *testing.T, s bookstore.Store, name string) bookstore.User {
		u := mustCreateUser(t, s, name)
		if _, err := s.SetUserAdmin(t.Context(), u.ID, true); err != nil {
			t.Fatalf("SetUserAdmin: %v", err)
		}
		return u
	}
	t.Run("LastAdminStays", func(t *testing.T) {
		s := open(t)
		root := makeAdmin(t, s, "root")
		plain := mustCreateUser(t, s, "alice")
		_, err := s.SetUserAdmin(t.Context(), root.ID, false)
		wantErr(t, err, bookstore.ErrConflict)
		if !errors.Is(err, bookstore.ErrLastAdmin) {
			t.Fatalf("err = %v, want ErrLastAdmin", err)
		}
		wantErr(t, s.DeleteUser(t.Context(), root.ID), bookstore.ErrConflict)
		if got, err := s.FindUserByID(t.Context(), root.ID); err != nil || !got.Admin {
			t.Fatalf("the last admin after refusals: %+v, %v", got, err)
		}
		// Demoting a user who is not an admin, and deleting one, are fine.
		if _, err := s.SetUserAdmin(t.Context(), plain.ID, false); err != nil {
			t.Fatalf("SetUserAdmin(non-admin, false): %v", err)
		}
		if err := s.DeleteUser(t.Context(), plain.ID); err != nil {
			t.Fatalf("DeleteUser(non-admin): %v", err)
		}
		second := makeAdmin(t, s, "second")
		if err := s.DeleteUser(t.Context(), root.ID); err != nil {
			t.Fatalf("DeleteUser with another admin left: %v", err)
		}
		_, err = s.SetUserAdmin(t.Context(), second.ID, false)
		wantErr(t, err, bookstore.ErrConflict)
	})

	// Two admins demote or delete each other at the same moment, round after
	// round: exactly one of each pair succeeds, and an admin always remains.
	t.Run("ConcurrentRemovalsKeepOne", func(t *testing.T) {
		s := open(t)
		for round := range raceRounds {
			a := makeAdmin(t, s, "a"+string(rune('a'+round)))
			b := makeAdmin(t, s, "b"+string(rune('a'+round)))
			// Leave exactly a and b as admins.
			users, _ := s.ListUsers(t.Context(), bookstore.UserFilter{})
			for _, u := range users {
				if u.Admin && u.ID != a.ID && u.ID != b.ID {
					if _, err := s.SetUserAdmin(t.Context(), u.ID, false); err != nil {
						t.Fatal(err)
					}
				}
			}
			remove := []func(id uuid.UUID) error{
				func(id uuid.UUID) error { _, err := s.SetUserAdmin(t.Context(), id, false); return err },
				func(id uuid.UUID) error { return s.DeleteUser(t.Context(), id) },
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []uuid.UUID{a.ID, b.ID} {
				wg.Go(func() {
					<-start
					errs[i] = remove[(round+i)%2](id)
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, bookstore.ErrLastAdmin):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of two removals of the last two admins succeeded, want 1", round, ok)
			}
			admins := 0
			users, _ = s.ListUsers(t.Context(), bookstore.UserFilter{})
			for _, u := range users {
				if u.Admin {
					admins++
				}
			}
			if admins != 1 {
				t.Fatalf("round %d: %d admins left, want 1", round, admins)
			}
		}
	})

	t.Run("CreateFirstAdmin", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "alice") // not an admin: does not count
		first := bookstore.User{ID: uuid.New(), Username: "root", PasswordHash: someHash, Admin: true, CreatedAt: t0}
		created, err := s.CreateFirstAdmin(t.Context(), first)
		if err != nil || !created {
			t.Fatalf("CreateFirstAdmin on a database without admins = %v, %v", created, err)
		}
		got, err := s.FindUserByUsername(t.Context(), "root")
		if err != nil || !got.Admin {
			t.Fatalf("first admin = %+v, %v", got, err)
		}
		again := bookstore.User{ID: uuid.New(), Username: "other", PasswordHash: someHash, Admin: true, CreatedAt: t0}
		if created, err := s.CreateFirstAdmin(t.Context(), again); err != nil || created {
			t.Fatalf("CreateFirstAdmin with an admin present = %v, %v; want false", created, err)
		}
		if _, err := s.FindUserByUsername(t.Context(), "other"); !errors.Is(err, bookstore.ErrNotFound) {
			t.Fatalf("a second first admin was stored: %v", err)
		}
	})
}

func newSession(userID uuid.UUID) bookstore.Session {
	return bookstore.Session{
		ID: uuid.New(), UserID: userID, CreatedAt: t0, LastUsedAt: t0, AuthTime: t0,
		ExpiresAt: t0.Add(24 * time.Hour), UserAgent: "storetest/1.0", IP: "192.0.2.1",
	}
}

// CheckMigratedCredentials checks, after migration 00004, a user and their
// one session stored before it at created: the user is at credential
// version 0 (what logins read) and the session's auth_time is its creation.
func CheckMigratedCredentials(t *testing.T, s bookstore.Store, userID uuid.UUID, created time.Time) {
	t.Helper()
	u, err := s.FindUserByID(t.Context(), userID)
	if err != nil || u.CredentialVersion != 0 {
		t.Fatalf("user after the migration: %+v, %v", u, err)
	}
	sessions, err := s.ListSessions(t.Context(), userID, created)
	if err != nil || len(sessions) != 1 || !sessions[0].AuthTime.Equal(created) {
		t.Fatalf("sessions after the migration: %+v, %v; want auth_time %v", sessions, err, created)
	}
}
