package app

import (
	"context"
	"fmt"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// The background chores of a server: keep the signing keys in step with
// the database (another replica or `bookstore keys rotate` may have rotated
// them), delete ended throttle windows, which are ignored anyway but would
// make the table grow, and purge ended sessions and spent refresh tokens
// past their retention (PurgeSessions).
const (
	keyReloadInterval = time.Minute
	sweepInterval     = 10 * time.Minute
)

type chores struct {
	throttle *auth.Throttle // nil when throttling is off
	keys     *auth.KeyReloader
	// sessions are purged of rows ended longer than sessionRetention ago.
	sessions         bookstore.SessionStore
	sessionRetention time.Duration
}

// StartChores runs the service's background chores until the returned stop
// is called; stop waits for a chore in progress. A chore that fails or
// panics is logged and tried again next time: it never takes the server
// down.
func (s *Service) StartChores(ctx context.Context) (stop func()) {
	h, log := s.chores, s.log
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	chore := func(name string, fn func(now time.Time) error) {
		defer func() {
			if v := recover(); v != nil {
				log.Error("housekeeping panicked", "chore", name, "panic", fmt.Sprint(v))
			}
		}()
		if err := fn(time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("housekeeping failed", "chore", name, "error", err.Error())
		}
	}
	go func() {
		defer close(done)
		reload := time.NewTicker(keyReloadInterval)
		defer reload.Stop()
		sweep := time.NewTicker(sweepInterval)
		defer sweep.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload.C:
				if h.keys != nil { // nil: fixed keys, nothing to reload
					chore("reload signing keys", func(now time.Time) error { return h.keys.Reload(ctx, now) })
				}
			case <-sweep.C:
				chore("sweep throttle", func(now time.Time) error {
					n, err := h.throttle.Sweep(ctx, now)
					log.Debug("throttle swept", "deleted", n)
					return err
				})
				chore("purge sessions", func(now time.Time) error {
					sessions, tokens, err := PurgeSessions(ctx, h.sessions, now.Add(-h.sessionRetention))
					log.Debug("sessions purged", "sessions", sessions, "refresh_tokens", tokens)
					return err
				})
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// A purge deletes in batches of PurgeBatch rows per table, each its own
// short transaction, and pauses purgePause between batches: on SQLite the
// one writer then serves logins and refreshes between batches instead of
// waiting for a purge of a million rows.
const (
	PurgeBatch = 500
	purgePause = 50 * time.Millisecond
)

// PurgeSessions deletes the sessions that expired or were revoked before
// `before` (their refresh tokens go with them) and the refresh tokens spent
// before it, batch by batch until none is left, and says how many.
func PurgeSessions(ctx context.Context, store bookstore.SessionStore, before time.Time) (sessions, tokens int64, err error) {
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		ns, nt, err := store.PurgeSessions(ctx, before, PurgeBatch)
		sessions, tokens = sessions+ns, tokens+nt
		if err != nil || (ns < PurgeBatch && nt < PurgeBatch) {
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
