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
			CreatedAt: fromMillis(r.CreatedAt),
			RetiredAt: fromNullMillis(r.RetiredAt),
		})
	}
	return keys, nil
}

func (db *DB) AddSigningKey(ctx context.Context, k bookstore.SigningKey) error {
	err := db.w.AddSigningKey(ctx, sqlitedb.AddSigningKeyParams{
		Kid:       k.KID,
		Alg:       k.Alg,
		Secret:    k.Secret,
		CreatedAt: millis(k.CreatedAt),
		RetiredAt: nullMillis(k.RetiredAt),
	})
	return mapErr(err, "", "a signing key with this kid already exists")
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
	err = db.write(ctx, func(q *sqlitedb.Queries) error {
		err := q.InsertSecret(ctx, sqlitedb.InsertSecretParams{
			Name: name, Value: fresh, CreatedAt: millis(time.Now()),
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
