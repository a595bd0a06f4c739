package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bookstore/bookstore/gen/sqlitedb"
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

// RotateSigningKey retires the current keys before adding k, so k itself
// stays live; a kid that exists fails the insert and rolls the retiring back.
func (db *DB) RotateSigningKey(ctx context.Context, k bookstore.SigningKey, now time.Time) error {
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		if _, err := q.RetireSigningKeys(ctx, sqlitedb.RetireSigningKeysParams{Now: toDB(now)}); err != nil {
			return err
		}
		return addSigningKey(ctx, q, k)
	})
	return mapErr(err, "", msgKIDTaken)
}

func (db *DB) RetireSigningKeys(ctx context.Context, keep string, now time.Time) (int64, error) {
	n, err := db.w.RetireSigningKeys(ctx, sqlitedb.RetireSigningKeysParams{Now: toDB(now), Keep: keep})
	return n, mapErr(err, "", "")
}

// RevokeSigningKey runs in the one writer's transaction, so no rotation can
// slip between the delete and the successor's insert.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, successor bookstore.SigningKey, now time.Time) (bool, error) {
	var replaced bool
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		replaced = false
		retiredAt, err := q.DeleteSigningKey(ctx, kid)
		if err != nil || retiredAt.Valid {
			return err
		}
		replaced = true
		if _, err := q.RetireSigningKeys(ctx, sqlitedb.RetireSigningKeysParams{Now: toDB(now)}); err != nil {
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

func addSigningKey(ctx context.Context, q *sqlitedb.Queries, k bookstore.SigningKey) error {
	return q.AddSigningKey(ctx, sqlitedb.AddSigningKeyParams{
		Kid:       k.KID,
		Alg:       k.Alg,
		Secret:    k.Secret,
		CreatedAt: toDB(k.CreatedAt),
		RetiredAt: toDBPtr(k.RetiredAt),
	})
}

// Secret reads first, so generate runs only until the secret exists. The
// insert does nothing if a concurrent first call stored one meanwhile, and
// the read that follows it returns whichever value won.
func (db *DB) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	v, err := db.r.FindSecret(ctx, name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, mapErr(err, "", "")
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("sqlite: generate secret %q: %w", name, err)
	}
	err = db.inTx(ctx, func(q *sqlitedb.Queries) error {
		err := q.InsertSecret(ctx, sqlitedb.InsertSecretParams{
			Name: name, Value: fresh, CreatedAt: toDB(time.Now()),
		})
		if err != nil {
			return err
		}
		v, err = q.FindSecret(ctx, name)
		return err
	})
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	return v, nil
}
