package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/gen/pgdb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

const (
	msgKIDTaken  = "a signing key with this kid already exists"
	msgNoSuchKey = "no signing key has this kid"
)

func (db *DB) SigningKeys(ctx context.Context) ([]bookstore.SigningKey, error) {
	rows, err := db.r.SigningKeys(ctx)
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	keys := make([]bookstore.SigningKey, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, bookstore.SigningKey{
			KID:       r.Kid,
			Alg:       r.Alg,
			Secret:    r.Secret,
			CreatedAt: fromDB(r.CreatedAt),
			RetiredAt: fromDBPtr(r.RetiredAt),
		})
	}
	return keys, nil
}

func (db *DB) AddSigningKey(ctx context.Context, k bookstore.SigningKey) error {
	return mapErr(addSigningKey(ctx, db.w, k), "", msgKIDTaken)
}

// RotateSigningKey first locks the table against other writers (see
// LockSigningKeys), then retires the current keys before adding k, so k
// itself stays live; a kid that exists fails the insert and rolls the
// retiring back.
func (db *DB) RotateSigningKey(ctx context.Context, k bookstore.SigningKey, now time.Time) error {
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		if err := q.LockSigningKeys(ctx); err != nil {
			return err
		}
		if _, err := q.RetireSigningKeys(ctx, pgdb.RetireSigningKeysParams{Now: toDB(now)}); err != nil {
			return err
		}
		return addSigningKey(ctx, q, k)
	})
	return mapErr(err, "", msgKIDTaken)
}

func (db *DB) RetireSigningKeys(ctx context.Context, keep string, now time.Time) (int64, error) {
	n, err := db.w.RetireSigningKeys(ctx, pgdb.RetireSigningKeysParams{Now: toDB(now), Keep: keep})
	return n, mapErr(err, "", "")
}

// RevokeSigningKey takes the rotation lock first (see LockSigningKeys), so
// a concurrent rotation either precedes the revocation or sees its
// successor, never a table without a live key.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, successor bookstore.SigningKey, now time.Time) (bool, error) {
	var replaced bool
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		replaced = false // inTx may run this again
		if err := q.LockSigningKeys(ctx); err != nil {
			return err
		}
		retiredAt, err := q.DeleteSigningKey(ctx, kid)
		if err != nil || retiredAt != nil {
			return err
		}
		replaced = true
		if _, err := q.RetireSigningKeys(ctx, pgdb.RetireSigningKeysParams{Now: toDB(now)}); err != nil {
			return err
		}
		return addSigningKey(ctx, q, successor)
	})
	return replaced, mapErr(err, msgNoSuchKey, msgKIDTaken)
}

func (db *DB) DeleteRetiredSigningKeys(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.w.DeleteRetiredSigningKeys(ctx, toDB(before))
	return n, mapErr(err, "", "")
}

func addSigningKey(ctx context.Context, q *pgdb.Queries, k bookstore.SigningKey) error {
	return q.AddSigningKey(ctx, pgdb.AddSigningKeyParams{
		Kid:       k.KID,
		Alg:       k.Alg,
		Secret:    k.Secret,
		CreatedAt: toDB(k.CreatedAt),
		RetiredAt: toDBPtr(k.RetiredAt),
	})
}

// Secret reads first, so generate runs only until the secret exists. The
// insert does nothing if another call (on any replica) stored one meanwhile,
// and the read that follows it, a new statement, sees whichever value was
// committed first.
func (db *DB) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	v, err := db.r.FindSecret(ctx, name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapErr(err, "", "")
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("postgres: generate secret %q: %w", name, err)
	}
	err = db.w.InsertSecret(ctx, pgdb.InsertSecretParams{Name: name, Value: fresh, CreatedAt: toDB(time.Now())})
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	v, err = db.r.FindSecret(ctx, name)
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	return v, nil
}
