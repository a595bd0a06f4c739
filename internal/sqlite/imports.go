package sqlite

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func (db *DB) SetPasswordChangeRequired(ctx context.Context, id uuid.UUID, required bool) error {
	n, err := db.w.SetPasswordChangeRequired(ctx, sqlitedb.SetPasswordChangeRequiredParams{ID: id, Required: boolInt(required)})
	if err != nil {
		return mapErr(err, msgUserNotFound, "")
	}
	if n == 0 {
		return bookstore.Errorf(bookstore.ErrNotFound, msgUserNotFound)
	}
	return nil
}

// ImportUser records the source id first: a record that exists makes the
// insert a no-op and nothing is created; a taken username rolls the record
// back with the user.
func (db *DB) ImportUser(ctx context.Context, u bookstore.User, source, sourceID string, now time.Time) (bool, error) {
	var created bool
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		created = false
		n, err := q.RecordImportedAccount(ctx, sqlitedb.RecordImportedAccountParams{
			Source: source, SourceID: sourceID, UserID: u.ID, ImportedAt: toDB(now),
		})
		if err != nil || n == 0 {
			return err
		}
		created = true
		return q.CreateUser(ctx, createUserParams(u))
	})
	if err != nil {
		return false, mapErr(err, msgUserNotFound, msgUsernameTaken)
	}
	return created, nil
}
