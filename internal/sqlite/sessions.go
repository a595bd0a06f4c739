package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

const (
	msgSessionNotFound = "session not found"
	msgSessionEnded    = "the session has ended"
	msgRefreshInvalid  = "the refresh token is not valid"
	msgRefreshReused   = "the refresh token was already used; its session has been revoked"
)

// touchEvery is how stale last_used_at may get before a request records its
// use: authentication stays a pure read for most requests.
const touchEvery = time.Minute

// CreateSession checks the credential version and inserts in one write
// transaction; SQLite's single writer orders it against every credential
// change.
func (db *DB) CreateSession(ctx context.Context, s bookstore.Session, refreshHash []byte, credentialVersion int64) error {
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		version, err := q.FindCredentialVersion(ctx, s.UserID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && version != credentialVersion) {
			return bookstore.ErrCredentialChanged
		}
		if err != nil {
			return err
		}
		err = q.CreateSession(ctx, sqlitedb.CreateSessionParams{
			ID:         s.ID,
			UserID:     s.UserID,
			CreatedAt:  toDB(s.CreatedAt),
			LastUsedAt: toDB(s.LastUsedAt),
			ExpiresAt:  toDB(s.ExpiresAt),
			RevokedAt:  toDBPtr(s.RevokedAt),
			UserAgent:  s.UserAgent,
			Ip:         s.IP,
			AuthTime:   toDB(s.AuthTime),
		})
		if err != nil {
			return err
		}
		return q.CreateRefreshToken(ctx, sqlitedb.CreateRefreshTokenParams{
			TokenHash: refreshHash, SessionID: s.ID, CreatedAt: toDB(s.CreatedAt),
		})
	})
	return mapErr(err, msgUserNotFound, "the session already exists")
}

func (db *DB) AuthenticateSession(ctx context.Context, sessionID, userID uuid.UUID, now time.Time) (bookstore.Principal, error) {
	row, err := db.r.AuthenticateSession(ctx, sqlitedb.AuthenticateSessionParams{
		ID: sessionID, UserID: userID, Now: toDB(now),
	})
	if errors.Is(err, sql.ErrNoRows) {
		return bookstore.Principal{}, bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
	}
	if err != nil {
		return bookstore.Principal{}, mapErr(err, "", "")
	}
	if now.Sub(fromDB(row.LastUsedAt)) > touchEvery {
		err := db.w.TouchSession(ctx, sqlitedb.TouchSessionParams{ID: sessionID, Now: toDB(now)})
		if err != nil {
			return bookstore.Principal{}, mapErr(err, "", "")
		}
	}
	return bookstore.Principal{
		UserID:                 userID,
		SessionID:              sessionID,
		Username:               row.Username,
		Admin:                  row.Admin != 0,
		PasswordChangeRequired: row.PasswordChangeRequired != 0,
	}, nil
}

func (db *DB) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time) (bookstore.Session, error) {
	var s bookstore.Session
	var reused bool
	// Reuse commits the revocation (fn returns nil) and only then reports
	// the error.
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		var err error
		s, reused, err = rotateRefreshToken(ctx, q, oldHash, newHash, now)
		return err
	})
	if err != nil {
		return bookstore.Session{}, mapErr(err, msgRefreshInvalid, "the new refresh token already exists")
	}
	if reused {
		return s, bookstore.Errorf(bookstore.ErrRefreshReused, msgRefreshReused)
	}
	return s, nil
}

// rotateRefreshToken reports reused (with a nil error) when oldHash was
// already spent and it revoked the session; the caller commits that.
func rotateRefreshToken(ctx context.Context, q *sqlitedb.Queries, oldHash, newHash []byte, now time.Time) (s bookstore.Session, reused bool, err error) {
	rt, err := q.FindRefreshToken(ctx, oldHash)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, bookstore.Errorf(bookstore.ErrUnauthorized, msgRefreshInvalid)
	}
	if err != nil {
		return s, false, err
	}
	if rt.SpentAt.Valid {
		// Someone holds a copy of a token that was already exchanged:
		// end the session for every holder.
		row, err := q.RevokeSession(ctx, sqlitedb.RevokeSessionParams{ID: rt.SessionID, Now: toDB(now)})
		return sessionFromRow(row), err == nil, err
	}
	row, err := q.FindSessionByID(ctx, rt.SessionID)
	if err != nil {
		return s, false, err
	}
	if !sessionFromRow(row).Live(now) {
		return s, false, bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
	}
	if _, err := q.SpendRefreshToken(ctx, sqlitedb.SpendRefreshTokenParams{TokenHash: oldHash, Now: toDB(now)}); err != nil {
		return s, false, err
	}
	if err := q.CreateRefreshToken(ctx, sqlitedb.CreateRefreshTokenParams{
		TokenHash: newHash, SessionID: rt.SessionID, CreatedAt: toDB(now),
	}); err != nil {
		return s, false, err
	}
	if _, err := q.TrimSpentRefreshTokens(ctx, sqlitedb.TrimSpentRefreshTokensParams{
		SessionID: rt.SessionID, Keep: bookstore.SpentRefreshTokensKept,
	}); err != nil {
		return s, false, err
	}
	row, err = q.SetSessionLastUsed(ctx, sqlitedb.SetSessionLastUsedParams{ID: rt.SessionID, Now: toDB(now)})
	if err != nil {
		return s, false, err
	}
	return sessionFromRow(row), false, nil
}

func (db *DB) RevokeSessionByRefreshToken(ctx context.Context, hash []byte, now time.Time) (bookstore.Session, error) {
	var s bookstore.Session
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		rt, err := q.FindRefreshToken(ctx, hash)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && rt.SpentAt.Valid) {
			return bookstore.Errorf(bookstore.ErrUnauthorized, msgRefreshInvalid)
		}
		if err != nil {
			return err
		}
		row, err := q.FindSessionByID(ctx, rt.SessionID)
		if err != nil {
			return err
		}
		if !sessionFromRow(row).Live(now) {
			return bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
		}
		row, err = q.RevokeSession(ctx, sqlitedb.RevokeSessionParams{ID: rt.SessionID, Now: toDB(now)})
		s = sessionFromRow(row)
		return err
	})
	if err != nil {
		return bookstore.Session{}, mapErr(err, msgRefreshInvalid, "")
	}
	return s, nil
}

func (db *DB) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, now time.Time) error {
	n, err := db.w.RevokeLiveUserSession(ctx, sqlitedb.RevokeLiveUserSessionParams{
		ID: sessionID, UserID: userID, Now: toDB(now),
	})
	if err != nil {
		return mapErr(err, msgSessionNotFound, "")
	}
	if n == 0 {
		return bookstore.Errorf(bookstore.ErrNotFound, msgSessionNotFound)
	}
	return nil
}

func (db *DB) RevokeUserSessions(ctx context.Context, userID uuid.UUID, now time.Time) error {
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		n, err := q.BumpCredentialVersion(ctx, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return bookstore.Errorf(bookstore.ErrNotFound, msgUserNotFound)
		}
		return q.RevokeUserSessions(ctx, sqlitedb.RevokeUserSessionsParams{UserID: userID, Now: toDB(now)})
	})
	return mapErr(err, msgUserNotFound, "")
}

func (db *DB) RevokeExcessSessions(ctx context.Context, userID uuid.UUID, keep int, now time.Time) (int64, error) {
	n, err := db.w.RevokeExcessSessions(ctx, sqlitedb.RevokeExcessSessionsParams{UserID: userID, Keep: int64(keep), Now: toDB(now)})
	return n, mapErr(err, "", "")
}

// PurgeSessions runs each delete as its own statement on the writer, so
// the writer is held for one batch at a time and logins and refreshes get
// their turn between batches.
func (db *DB) PurgeSessions(ctx context.Context, before time.Time, batch int) (sessions, tokens int64, err error) {
	sessions, err = db.w.PurgeEndedSessions(ctx, sqlitedb.PurgeEndedSessionsParams{Before: toDB(before), Batch: int64(batch)})
	if err != nil {
		return 0, 0, mapErr(err, "", "")
	}
	tokens, err = db.w.PurgeSpentRefreshTokens(ctx, sqlitedb.PurgeSpentRefreshTokensParams{Before: toDB(before), Batch: int64(batch)})
	return sessions, tokens, mapErr(err, "", "")
}

func (db *DB) ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]bookstore.Session, error) {
	rows, err := db.r.ListSessions(ctx, sqlitedb.ListSessionsParams{UserID: userID, Now: toDB(now)})
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	sessions := make([]bookstore.Session, 0, len(rows))
	for _, row := range rows {
		sessions = append(sessions, sessionFromRow(row))
	}
	return sessions, nil
}

func sessionFromRow(r sqlitedb.Session) bookstore.Session {
	return bookstore.Session{
		ID:         r.ID,
		UserID:     r.UserID,
		CreatedAt:  fromDB(r.CreatedAt),
		LastUsedAt: fromDB(r.LastUsedAt),
		ExpiresAt:  fromDB(r.ExpiresAt),
		RevokedAt:  fromDBPtr(r.RevokedAt),
		UserAgent:  r.UserAgent,
		IP:         r.Ip,
		AuthTime:   fromDB(r.AuthTime),
	}
}
