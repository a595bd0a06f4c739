package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/gen/pgdb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

var _ bookstore.ThrottleStore = (*DB)(nil)

func (db *DB) TakeThrottle(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	row, err := db.q.TakeThrottle(ctx, pgdb.TakeThrottleParams{Key: key, ResetAt: ms(now.Add(window)), Now: ms(now), MaxCount: int64(limit)})
	if err == nil {
		return true, fromDB(row.ResetAt), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, time.Time{}, mapErr(err, "", "")
	}
	// Refused: the live window's end is the answer's Retry-After. The
	// window may have ended since; then a window from now is close enough.
	full, err := db.q.FindThrottle(ctx, pgdb.FindThrottleParams{Key: key, Now: ms(now)})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, now.Add(window), nil
	}
	if err != nil {
		return false, time.Time{}, mapErr(err, "", "")
	}
	return false, fromDB(full.ResetAt), nil
}

func (db *DB) RefundThrottle(ctx context.Context, key string, now time.Time) error {
	return mapErr(db.q.RefundThrottle(ctx, pgdb.RefundThrottleParams{Key: key, Now: ms(now)}), "", "")
}

func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	return mapErr(db.q.ClearThrottle(ctx, key), "", "")
}

func (db *DB) RememberLoginAddress(ctx context.Context, key string, expiresAt time.Time) error {
	return mapErr(db.q.RememberLoginAddress(ctx, pgdb.RememberLoginAddressParams{Key: key, ExpiresAt: ms(expiresAt)}), "", "")
}

func (db *DB) IsLoginAddress(ctx context.Context, key string, now time.Time) (bool, error) {
	n, err := db.q.CountLoginAddress(ctx, pgdb.CountLoginAddressParams{Key: key, Now: ms(now)})
	return n > 0, mapErr(err, "", "")
}

func (db *DB) SweepThrottle(ctx context.Context, now time.Time) (int64, error) {
	windows, err := db.q.SweepThrottle(ctx, ms(now))
	if err != nil {
		return 0, mapErr(err, "", "")
	}
	addresses, err := db.q.SweepLoginAddresses(ctx, ms(now))
	return windows + addresses, mapErr(err, "", "")
}
