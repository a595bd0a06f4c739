package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

var _ bookstore.ThrottleStore = (*DB)(nil)

// TakeThrottle runs StartThrottle and TakeThrottle in one write transaction:
// the writer is a single connection, so nothing interleaves between them.
func (db *DB) TakeThrottle(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	var (
		ok      bool
		resetAt int64
	)
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		resetAt = toDB(now.Add(window))
		if err := q.StartThrottle(ctx, sqlitedb.StartThrottleParams{Key: key, ResetAt: resetAt}); err != nil {
			return err
		}
		row, err := q.TakeThrottle(ctx, sqlitedb.TakeThrottleParams{Key: key, Now: toDB(now), ResetAt: resetAt, MaxCount: int64(limit)})
		if err == nil {
			ok, resetAt = true, row.ResetAt
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Refused: the live window's end is the answer's Retry-After.
		full, err := q.FindThrottle(ctx, sqlitedb.FindThrottleParams{Key: key, Now: toDB(now)})
		if err == nil {
			resetAt = full.ResetAt
		}
		return nil
	})
	if err != nil {
		return false, time.Time{}, mapErr(err, "", "")
	}
	return ok, fromDB(resetAt), nil
}

func (db *DB) RefundThrottle(ctx context.Context, key string, now time.Time) error {
	return mapErr(db.w.RefundThrottle(ctx, sqlitedb.RefundThrottleParams{Key: key, Now: toDB(now)}), "", "")
}

func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	return mapErr(db.w.ClearThrottle(ctx, key), "", "")
}

func (db *DB) RememberLoginAddress(ctx context.Context, key string, expiresAt time.Time) error {
	return mapErr(db.w.RememberLoginAddress(ctx, sqlitedb.RememberLoginAddressParams{Key: key, ExpiresAt: toDB(expiresAt)}), "", "")
}

func (db *DB) IsLoginAddress(ctx context.Context, key string, now time.Time) (bool, error) {
	n, err := db.r.CountLoginAddress(ctx, sqlitedb.CountLoginAddressParams{Key: key, Now: toDB(now)})
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
