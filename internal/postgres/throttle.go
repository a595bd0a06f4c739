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

func (db *DB) HitThrottle(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	row, err := db.q.HitThrottle(ctx, pgdb.HitThrottleParams{Key: key, ResetAt: ms(now.Add(window)), Now: ms(now)})
	if err != nil {
		return 0, time.Time{}, mapErr(err, "", "")
	}
	return int(row.Count), fromDB(row.ResetAt), nil
}

func (db *DB) ThrottleCount(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	row, err := db.q.FindThrottle(ctx, pgdb.FindThrottleParams{Key: key, Now: ms(now)})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, mapErr(err, "", "")
	}
	return int(row.Count), fromDB(row.ResetAt), nil
}

func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	return mapErr(db.q.ClearThrottle(ctx, key), "", "")
}

func (db *DB) SweepThrottle(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.q.SweepThrottle(ctx, ms(now))
	return n, mapErr(err, "", "")
}
