package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func testSessions(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("CreateAndList", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		want := mustCreateSession(t, s, u.ID, t0, "r1")
		got, err := s.ListSessions(t.Context(), u.ID, t0)
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("ListSessions = %v, want one", sessionIDs(got))
		}
		checkSession(t, got[0], want)
	})

	t.Run("CreateForUnknownUser", func(t *testing.T) {
		s := open(t)
		sess := bookstore.Session{ID: uuid.New(), UserID: uuid.New(), CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		wantErr(t, s.CreateSession(t.Context(), sess, refreshHash("r"), 0), bookstore.ErrUnauthorized)
	})

	t.Run("AuthenticateSession", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		live := mustCreateSession(t, s, u.ID, t0, "live")
		revoked := mustCreateSession(t, s, u.ID, t0, "revoked")
		if err := s.RevokeSession(t.Context(), u.ID, revoked.ID, t0.Add(time.Second)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		gone := mustCreateUser(t, s, "carol")
		goneSess := mustCreateSession(t, s, gone.ID, t0, "gone")
		if err := s.DeleteUser(t.Context(), gone.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}

		tests := []struct {
			name    string
			session uuid.UUID
			user    uuid.UUID
			now     time.Time
			ok      bool
		}{
			{"live", live.ID, u.ID, t0.Add(time.Hour), true},
			{"last millisecond", live.ID, u.ID, live.ExpiresAt.Add(-time.Millisecond), true},
			{"expired", live.ID, u.ID, live.ExpiresAt, false},
			{"revoked", revoked.ID, u.ID, t0.Add(time.Hour), false},
			{"another user's", live.ID, other.ID, t0.Add(time.Hour), false},
			{"unknown", uuid.New(), u.ID, t0.Add(time.Hour), false},
			{"deleted user", goneSess.ID, gone.ID, t0.Add(time.Hour), false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, err := s.AuthenticateSession(t.Context(), tc.session, tc.user, tc.now)
				if !tc.ok {
					wantErr(t, err, bookstore.ErrUnauthorized)
					return
				}
				if err != nil {
					t.Fatalf("AuthenticateSession: %v", err)
				}
				want := bookstore.Principal{UserID: u.ID, SessionID: live.ID, Username: "alice"}
				if p != want {
					t.Fatalf("principal = %+v, want %+v", p, want)
				}
			})
		}
	})

	t.Run("AdminReadFresh", func(t *testing.T) {
		s := open(t)
		if _, err := s.SetUserAdmin(t.Context(), mustCreateUser(t, s, "root").ID, true); err != nil {
			t.Fatalf("SetUserAdmin: %v", err)
		}
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		for _, admin := range []bool{true, false, true} {
			if _, err := s.SetUserAdmin(t.Context(), u.ID, admin); err != nil {
				t.Fatalf("SetUserAdmin: %v", err)
			}
			p, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, t0)
			if err != nil {
				t.Fatalf("AuthenticateSession: %v", err)
			}
			if p.Admin != admin {
				t.Fatalf("Admin = %v after SetUserAdmin(%v)", p.Admin, admin)
			}
		}
	})

	t.Run("LastUseRecordedAtMostOnceAMinute", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		steps := []struct {
			now      time.Time
			wantLast time.Time
		}{
			{t0.Add(30 * time.Second), t0},
			{t0.Add(2 * time.Minute), t0.Add(2 * time.Minute)},
			{t0.Add(2*time.Minute + 59*time.Second), t0.Add(2 * time.Minute)},
			{t0.Add(10 * time.Minute), t0.Add(10 * time.Minute)},
		}
		for _, step := range steps {
			if _, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, step.now); err != nil {
				t.Fatalf("AuthenticateSession: %v", err)
			}
			got, _ := s.ListSessions(t.Context(), u.ID, step.now)
			if len(got) != 1 || !got[0].LastUsedAt.Equal(step.wantLast) {
				t.Fatalf("at %v: sessions %+v, want LastUsedAt %v", step.now, got, step.wantLast)
			}
		}
	})

	t.Run("RevokeSession", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		now := t0.Add(time.Minute)
		wantErr(t, s.RevokeSession(t.Context(), other.ID, sess.ID, now), bookstore.ErrNotFound)
		wantErr(t, s.RevokeSession(t.Context(), u.ID, uuid.New(), now), bookstore.ErrNotFound)
		wantErr(t, s.RevokeSession(t.Context(), u.ID, sess.ID, sess.ExpiresAt), bookstore.ErrNotFound)
		if err := s.RevokeSession(t.Context(), u.ID, sess.ID, now); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		wantErr(t, s.RevokeSession(t.Context(), u.ID, sess.ID, now), bookstore.ErrNotFound)
		_, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, now)
		wantErr(t, err, bookstore.ErrUnauthorized)
	})

	t.Run("RevokeUserSessions", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		a := mustCreateSession(t, s, u.ID, t0, "a")
		b := mustCreateSession(t, s, u.ID, t0, "b")
		bobs := mustCreateSession(t, s, other.ID, t0, "c")
		now := t0.Add(time.Minute)
		if err := s.RevokeUserSessions(t.Context(), u.ID, now); err != nil {
			t.Fatalf("RevokeUserSessions: %v", err)
		}
		for _, sess := range []bookstore.Session{a, b} {
			_, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, now)
			wantErr(t, err, bookstore.ErrUnauthorized)
		}
		if _, err := s.AuthenticateSession(t.Context(), bobs.ID, other.ID, now); err != nil {
			t.Fatalf("another user's session: %v", err)
		}
		// Nothing left to revoke is not an error.
		if err := s.RevokeUserSessions(t.Context(), u.ID, now); err != nil {
			t.Fatalf("RevokeUserSessions again: %v", err)
		}
	})

	t.Run("ListSessionsLiveNewestFirst", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		other := mustCreateUser(t, s, "bob")
		old := mustCreateSession(t, s, u.ID, t0.Add(-23*time.Hour), "old")
		mid := mustCreateSession(t, s, u.ID, t0.Add(-time.Hour), "mid")
		revoked := mustCreateSession(t, s, u.ID, t0.Add(-30*time.Minute), "revoked")
		newest := mustCreateSession(t, s, u.ID, t0, "newest")
		mustCreateSession(t, s, other.ID, t0, "bobs")
		if err := s.RevokeSession(t.Context(), u.ID, revoked.ID, t0); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		got, err := s.ListSessions(t.Context(), u.ID, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		want := []uuid.UUID{newest.ID, mid.ID, old.ID}
		if !slices.Equal(sessionIDs(got), want) {
			t.Fatalf("ListSessions = %v, want %v", sessionIDs(got), want)
		}
		// An hour later the oldest has expired.
		got, _ = s.ListSessions(t.Context(), u.ID, t0.Add(time.Hour+time.Minute))
		if want := []uuid.UUID{newest.ID, mid.ID}; !slices.Equal(sessionIDs(got), want) {
			t.Fatalf("ListSessions later = %v, want %v", sessionIDs(got), want)
		}
		if got, _ := s.ListSessions(t.Context(), uuid.New(), t0); len(got) != 0 {
			t.Fatalf("ListSessions(unknown user) = %v", sessionIDs(got))
		}
	})
}

func testRefreshTokens(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("RotateAndDetectReuse", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")

		now := t0.Add(time.Minute)
		got, err := s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r2"), now)
		if err != nil {
			t.Fatalf("rotate r1: %v", err)
		}
		if got.ID != sess.ID || got.UserID != u.ID || !got.ExpiresAt.Equal(sess.ExpiresAt) || got.RevokedAt != nil {
			t.Fatalf("rotate returned %+v, want session %+v", got, sess)
		}
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("r2"), refreshHash("r3"), now); err != nil {
			t.Fatalf("rotate r2: %v", err)
		}

		// r1 again: a copy of a spent token is in someone's hands.
		_, err = s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r4"), now)
		wantErr(t, err, bookstore.ErrRefreshReused)

		// The revocation was committed: the session and its newest token
		// are dead too.
		_, err = s.AuthenticateSession(t.Context(), sess.ID, u.ID, now)
		wantErr(t, err, bookstore.ErrUnauthorized)
		_, err = s.RotateRefreshToken(t.Context(), refreshHash("r3"), refreshHash("r5"), now)
		wantErr(t, err, bookstore.ErrUnauthorized)
		_, err = s.RotateRefreshToken(t.Context(), refreshHash("r4"), refreshHash("r6"), now)
		wantErr(t, err, bookstore.ErrUnauthorized)
		if live, _ := s.ListSessions(t.Context(), u.ID, now); len(live) != 0 {
			t.Fatalf("live sessions after reuse: %v", sessionIDs(live))
		}
	})

	t.Run("RotateRejects", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "expiring")
		revoked := mustCreateSession(t, s, u.ID, t0, "revoked")
		if err := s.RevokeSession(t.Context(), u.ID, revoked.ID, t0); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		tests := []struct {
			name  string
			token string
			now   time.Time
		}{
			{"unknown token", "nope", t0},
			{"expired session", "expiring", sess.ExpiresAt},
			{"revoked session", "revoked", t0.Add(time.Minute)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.RotateRefreshToken(t.Context(), refreshHash(tc.token), refreshHash(tc.token+"-next"), tc.now)
				wantErr(t, err, bookstore.ErrUnauthorized)
			})
		}
		// A refused rotation spends nothing: the token still works while
		// the session lives.
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("expiring"), refreshHash("next"), t0); err != nil {
			t.Fatalf("rotate after refusals: %v", err)
		}
	})

	t.Run("RevokeSessionByRefreshToken", func(t *testing.T) {
		s := open(t)
		u := mustCreateUser(t, s, "alice")
		sess := mustCreateSession(t, s, u.ID, t0, "r1")
		now := t0.Add(time.Minute)
		if _, err := s.RotateRefreshToken(t.Context(), refreshHash("r1"), refreshHash("r2"), now); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		for _, token := range []string{"unknown", "r1"} { // r1 is spent
			_, err := s.RevokeSessionByRefreshToken(t.Context(), refreshHash(token), now)
			wantErr(t, err, bookstore.ErrUnauthorized)
		}
		if _, err := s.AuthenticateSession(t.Context(), sess.ID, u.ID, now); err != nil {
			t.Fatalf("session after refused logouts: %v", err)
		}

		got, err := s.RevokeSessionByRefreshToken(t.Context(), refreshHash("r2"), now)
		if err != nil {
			t.Fatalf("RevokeSessionByRefreshToken: %v", err)
		}
		if got.ID != sess.ID || got.RevokedAt == nil || !got.RevokedAt.Equal(now) {
			t.Fatalf("revoked session = %+v, want %v revoked at %v", got, sess.ID, now)
		}
		_, err = s.AuthenticateSession(t.Context(), sess.ID, u.ID, now)
		wantErr(t, err, bookstore.ErrUnauthorized)
		_, err = s.RevokeSessionByRefreshToken(t.Context(), refreshHash("r2"), now)
		wantErr(t, err, bookstore.ErrUnauthorized)
	})
}

func checkSession(t *testing.T, got, want bookstore.Session) {
	t.Helper()
	sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	if got.ID != want.ID || got.UserID != want.UserID || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastUsedAt.Equal(want.LastUsedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!sameTime(got.RevokedAt, want.RevokedAt) || got.UserAgent != want.UserAgent || got.IP != want.IP ||
		!got.AuthTime.Equal(want.AuthTime) {
		t.Fatalf("session = %+v, want %+v", got, want)
	}
}
