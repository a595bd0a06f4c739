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

func (db *DB) HitThrottle(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	var row sqlitedb.HitThrottleRow
	err := db.write(ctx, func(q *sqlitedb.Queries) error {
		if err := q.ExpireThrottle(ctx, sqlitedb.ExpireThrottleParams{Key: key, Now: millis(now)}); err != nil {
			return err
		}
		var err error
		row, err = q.HitThrottle(ctx, sqlitedb.HitThrottleParams{Key: key, ResetAt: millis(now.Add(window))})
		return err
	})
	if err != nil {
		return 0, time.Time{}, mapErr(err, "", "")
	}
	return int(row.Count), fromMillis(row.ResetAt), nil
}

func (db *DB) ThrottleCount(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	row, err := db.r.FindThrottle(ctx, sqlitedb.FindThrottleParams{Key: key, Now: millis(now)})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, mapErr(err, "", "")
	}
	return int(row.Count), fromMillis(row.ResetAt), nil
}

func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	return mapErr(db.w.ClearThrottle(ctx, key), "", "")
}

func (db *DB) SweepThrottle(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.w.SweepThrottle(ctx, millis(now))
	return n, mapErr(err, "", "")
}
