package main

import (
	"context"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// A purge deletes in batches of purgeBatch rows per table, each its own
// short transaction, and pauses purgePause between batches: on SQLite the
// one writer then serves logins and refreshes between batches instead of
// waiting for a purge of a million rows.
const (
	purgeBatch = 500
	purgePause = 50 * time.Millisecond
)

// purgeSessions deletes the sessions that expired or were revoked before
// `before` (their refresh tokens go with them) and the refresh tokens spent
// before it, batch by batch until none is left, and says how many.
func purgeSessions(ctx context.Context, store bookstore.SessionStore, before time.Time) (sessions, tokens int64, err error) {
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		ns, nt, err := store.PurgeSessions(ctx, before, purgeBatch)
		sessions, tokens = sessions+ns, tokens+nt
		if err != nil || (ns < purgeBatch && nt < purgeBatch) {
			return sessions, tokens, err
		}
		pause.Reset(purgePause)
		select {
		case <-ctx.Done():
			return sessions, tokens, ctx.Err()
		case <-pause.C:
		}
	}
}
