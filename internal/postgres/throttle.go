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
	row, err := db.w.TakeThrottle(ctx, pgdb.TakeThrottleParams{Key: key, ResetAt: toDB(now.Add(window)), Now: toDB(now), MaxCount: int64(limit)})
	if err == nil {
		return true, fromDB(row.ResetAt), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, time.Time{}, mapErr(err, "", "")
	}
	// Refused: the live window's end is the answer's Retry-After. The
	// window may have ended since; then a window from now is close enough.
	full, err := db.r.FindThrottle(ctx, pgdb.FindThrottleParams{Key: key, Now: toDB(now)})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, now.Add(window), nil
	}
	if err != nil {
		return false, time.Time{}, mapErr(err, "", "")
	}
	return false, fromDB(full.ResetAt), nil
}

func (db *DB) RefundThrottle(ctx context.Context, key string, now time.Time) error {
	return mapErr(db.w.RefundThrottle(ctx, pgdb.RefundThrottleParams{Key: key, Now: toDB(now)}), "", "")
}

func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	return mapErr(db.w.ClearThrottle(ctx, key), "", "")
}

func (db *DB) RememberLoginAddress(ctx context.Context, key string, expiresAt time.Time) error {
	return mapErr(db.w.RememberLoginAddress(ctx, pgdb.RememberLoginAddressParams{Key: key, ExpiresAt: toDB(expiresAt)}), "", "")
}

func (db *DB) IsLoginAddress(ctx context.Context, key string, now time.Time) (bool, error) {
	n, err := db.r.CountLoginAddress(ctx, pgdb.CountLoginAddressParams{Key: key, Now: toDB(now)})
	return n > 0, mapErr(err, "", "")
}

func (db *DB) SweepThrottle(ctx context.Context, now time.Time) (int64, error) {
	windows, err := db.w.SweepThrottle(ctx, toDB(now))
	if err != nil {
		return 0, mapErr(err, "", "")
	}
	addresses, err := db.w.SweepLoginAddresses(ctx, toDB(now))
	return windows + addresses, mapErr(err, "", "")
}
