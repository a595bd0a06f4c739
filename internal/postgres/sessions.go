package postgres

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/gen/pgdb"
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

// CreateSession first takes a share lock on the user row and checks the
// credential version under it: a credential change updates that row first,
// so either it waits for this session to commit (and then revokes it), or
// this waits for the change and sees the new version.
func (db *DB) CreateSession(ctx context.Context, s bookstore.Session, refreshHash []byte, credentialVersion int64) error {
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		version, err := q.LockCredentialVersion(ctx, s.UserID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && version != credentialVersion) {
			return bookstore.ErrCredentialChanged
		}
		if err != nil {
			return err
		}
		err = q.CreateSession(ctx, pgdb.CreateSessionParams{
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
		return q.CreateRefreshToken(ctx, pgdb.CreateRefreshTokenParams{
			TokenHash: refreshHash, SessionID: s.ID, CreatedAt: toDB(s.CreatedAt),
		})
	})
	return mapErr(err, msgUserNotFound, "the session already exists")
}

// AuthenticateSession reads without a transaction: the row it reads is
// current as of the statement, so a revocation committed by any replica is
// seen by the next request.
func (db *DB) AuthenticateSession(ctx context.Context, sessionID, userID uuid.UUID, now time.Time) (bookstore.Principal, error) {
	row, err := db.r.AuthenticateSession(ctx, pgdb.AuthenticateSessionParams{
		ID: sessionID, UserID: userID, Now: toDB(now),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return bookstore.Principal{}, bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
	}
	if err != nil {
		return bookstore.Principal{}, mapErr(err, "", "")
	}
	if now.Sub(row.LastUsedAt) > touchEvery {
		err := db.w.TouchSession(ctx, pgdb.TouchSessionParams{ID: sessionID, Now: toDB(now)})
		if err != nil {
			return bookstore.Principal{}, mapErr(err, "", "")
		}
	}
	return bookstore.Principal{
		UserID:                 userID,
		SessionID:              sessionID,
		Username:               row.Username,
		Admin:                  row.Admin,
		PasswordChangeRequired: row.PasswordChangeRequired,
	}, nil
}

// RotateRefreshToken locks the presented token's row, then its session's:
// of two rotations of one token, on any replicas, the second waits for the
// first to commit and then finds the token spent, which is reuse.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time) (bookstore.Session, error) {
	var s bookstore.Session
	var reused bool
	// Reuse commits the revocation (fn returns nil) and only then reports
	// the error.
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
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
func rotateRefreshToken(ctx context.Context, q *pgdb.Queries, oldHash, newHash []byte, now time.Time) (s bookstore.Session, reused bool, err error) {
	rt, err := q.FindRefreshTokenForUpdate(ctx, oldHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, false, bookstore.Errorf(bookstore.ErrUnauthorized, msgRefreshInvalid)
	}
	if err != nil {
		return s, false, err
	}
	if rt.SpentAt != nil {
		// Someone holds a copy of a token that was already exchanged:
		// end the session for every holder.
		row, err := q.RevokeSession(ctx, pgdb.RevokeSessionParams{ID: rt.SessionID, Now: toDB(now)})
		return sessionFromRow(row), err == nil, err
	}
	row, err := q.FindSessionByIDForUpdate(ctx, rt.SessionID)
	if err != nil {
		return s, false, err
	}
	if !sessionFromRow(row).Live(now) {
		return s, false, bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
	}
	if _, err := q.SpendRefreshToken(ctx, pgdb.SpendRefreshTokenParams{TokenHash: oldHash, Now: toDB(now)}); err != nil {
		return s, false, err
	}
	if err := q.CreateRefreshToken(ctx, pgdb.CreateRefreshTokenParams{
		TokenHash: newHash, SessionID: rt.SessionID, CreatedAt: toDB(now),
	}); err != nil {
		return s, false, err
	}
	if _, err := q.TrimSpentRefreshTokens(ctx, pgdb.TrimSpentRefreshTokensParams{
		SessionID: rt.SessionID, Keep: bookstore.SpentRefreshTokensKept,
	}); err != nil {
		return s, false, err
	}
	row, err = q.SetSessionLastUsed(ctx, pgdb.SetSessionLastUsedParams{ID: rt.SessionID, Now: toDB(now)})
	if err != nil {
		return s, false, err
	}
	return sessionFromRow(row), false, nil
}

// RevokeSessionByRefreshToken locks the token like RotateRefreshToken, so a
// logout and a rotation of one token cannot both succeed.
func (db *DB) RevokeSessionByRefreshToken(ctx context.Context, hash []byte, now time.Time) (bookstore.Session, error) {
	var s bookstore.Session
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		rt, err := q.FindRefreshTokenForUpdate(ctx, hash)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && rt.SpentAt != nil) {
			return bookstore.Errorf(bookstore.ErrUnauthorized, msgRefreshInvalid)
		}
		if err != nil {
			return err
		}
		row, err := q.FindSessionByIDForUpdate(ctx, rt.SessionID)
		if err != nil {
			return err
		}
		if !sessionFromRow(row).Live(now) {
			return bookstore.Errorf(bookstore.ErrUnauthorized, msgSessionEnded)
		}
		row, err = q.RevokeSession(ctx, pgdb.RevokeSessionParams{ID: rt.SessionID, Now: toDB(now)})
		s = sessionFromRow(row)
		return err
	})
	if err != nil {
		return bookstore.Session{}, mapErr(err, msgRefreshInvalid, "")
	}
	return s, nil
}

func (db *DB) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, now time.Time) error {
	n, err := db.w.RevokeLiveUserSession(ctx, pgdb.RevokeLiveUserSessionParams{
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

// RevokeUserSessions updates the user row first, like ChangePassword, so
// it is ordered against CreateSession's share lock.
func (db *DB) RevokeUserSessions(ctx context.Context, userID uuid.UUID, now time.Time) error {
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		n, err := q.BumpCredentialVersion(ctx, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return bookstore.Errorf(bookstore.ErrNotFound, msgUserNotFound)
		}
		return q.RevokeUserSessions(ctx, pgdb.RevokeUserSessionsParams{UserID: userID, Now: toDB(now)})
	})
	return mapErr(err, msgUserNotFound, "")
}

func (db *DB) RevokeExcessSessions(ctx context.Context, userID uuid.UUID, keep int, now time.Time) (int64, error) {
	n, err := db.w.RevokeExcessSessions(ctx, pgdb.RevokeExcessSessionsParams{UserID: userID, Keep: int32(min(keep, math.MaxInt32)), Now: toDB(now)})
	return n, mapErr(err, "", "")
}

// PurgeSessions runs each delete as its own statement (autocommit), so no
// transaction spans batches; SKIP LOCKED leaves rows other transactions
// hold to a later batch.
func (db *DB) PurgeSessions(ctx context.Context, before time.Time, batch int) (sessions, tokens int64, err error) {
	b := int32(min(batch, math.MaxInt32))
	sessions, err = db.w.PurgeEndedSessions(ctx, pgdb.PurgeEndedSessionsParams{Before: toDB(before), Batch: b})
	if err != nil {
		return 0, 0, mapErr(err, "", "")
	}
	tokens, err = db.w.PurgeSpentRefreshTokens(ctx, pgdb.PurgeSpentRefreshTokensParams{Before: toDB(before), Batch: b})
	return sessions, tokens, mapErr(err, "", "")
}

func (db *DB) ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]bookstore.Session, error) {
	rows, err := db.r.ListSessions(ctx, pgdb.ListSessionsParams{UserID: userID, Now: toDB(now)})
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	sessions := make([]bookstore.Session, 0, len(rows))
	for _, row := range rows {
		sessions = append(sessions, sessionFromRow(row))
	}
	return sessions, nil
}

func sessionFromRow(r pgdb.Session) bookstore.Session {
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
