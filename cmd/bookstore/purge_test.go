package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// TestPurgeSessions fills the tables with more ended sessions than three
// batches hold, next to live ones, and purges: every ended session past the
// retention goes, batch after batch, the live ones and the recently ended
// stay, and a second purge finds nothing.
func TestPurgeSessions(t *testing.T) {
	ctx := context.Background()
	db := openTestStore(t, testDatabase(t))
	now := time.Now().Truncate(time.Millisecond)
	u := bookstore.User{ID: uuid.Must(uuid.NewV7()), Username: "alice", PasswordHash: "$argon2id$x", CreatedAt: now}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	session := func(i int, created, expires time.Time) bookstore.Session {
		s := bookstore.Session{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, CreatedAt: created, LastUsedAt: created, ExpiresAt: expires}
		h := sha256.Sum256(fmt.Appendf(nil, "token %d", i))
		if err := db.CreateSession(ctx, s, h[:], 0); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const ended = 2*app.PurgeBatch + 7
	longAgo := now.Add(-48 * time.Hour)
	for i := range ended {
		session(i, longAgo, longAgo.Add(time.Hour)) // expired 47 hours ago
	}
	live := session(ended, now, now.Add(time.Hour))
	recent := session(ended+1, now.Add(-2*time.Hour), now.Add(-time.Hour)) // expired an hour ago

	sessions, tokens, err := app.PurgeSessions(ctx, db, now.Add(-24*time.Hour))
	if err != nil || sessions != ended || tokens != 0 {
		t.Fatalf("purge = %d sessions, %d tokens, %v; want %d, 0", sessions, tokens, err, ended)
	}
	if got, err := db.ListSessions(ctx, u.ID, now); err != nil || len(got) != 1 || got[0].ID != live.ID {
		t.Errorf("live sessions after the purge: %v %v", got, err)
	}
	// The recently expired one is kept: a purge a day later takes it.
	if s, _, err := app.PurgeSessions(ctx, db, now.Add(-24*time.Hour)); err != nil || s != 0 {
		t.Errorf("second purge = %d, %v; want nothing", s, err)
	}
	if s, _, err := app.PurgeSessions(ctx, db, recent.ExpiresAt.Add(time.Millisecond)); err != nil || s != 1 {
		t.Errorf("purge past the recent one = %d, %v; want 1", s, err)
	}
}
