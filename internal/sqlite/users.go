package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/keyset"
)

const (
	msgUserNotFound  = "user not found"
	msgUsernameTaken = "username is taken"
)

func (db *DB) CreateUser(ctx context.Context, u bookstore.User) error {
	err := db.w.CreateUser(ctx, createUserParams(u))
	return mapErr(err, msgUserNotFound, msgUsernameTaken)
}

func (db *DB) FindUserByID(ctx context.Context, id uuid.UUID) (bookstore.User, error) {
	row, err := db.r.FindUserByID(ctx, id)
	if err != nil {
		return bookstore.User{}, mapErr(err, msgUserNotFound, "")
	}
	return userFromRow(row), nil
}

func (db *DB) FindUserByUsername(ctx context.Context, username string) (bookstore.User, error) {
	row, err := db.r.FindUserByUsername(ctx, username)
	if err != nil {
		return bookstore.User{}, mapErr(err, msgUserNotFound, "")
	}
	return userFromRow(row), nil
}

// ListUsers treats a Limit of zero or less as no limit.
func (db *DB) ListUsers(ctx context.Context, f bookstore.UserFilter) ([]bookstore.User, error) {
	p := sqlitedb.ListUsersParams{Pattern: keyset.LikePattern(f.Query), Limit: maxRows(f.Limit)}
	if f.After != nil {
		p.HasAfter = true
		p.AfterUsername = f.After.Username
		p.AfterID = f.After.ID.String()
	}
	rows, err := db.r.ListUsers(ctx, p)
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	users := make([]bookstore.User, 0, len(rows))
	for _, row := range rows {
		users = append(users, userFromRow(row))
	}
	return users, nil
}

// The admin rule is checked inside the write transaction, which holds
// SQLite's only write lock: no other demotion can interleave.
func (db *DB) SetUserAdmin(ctx context.Context, id uuid.UUID, admin bool) (bookstore.User, error) {
	var u bookstore.User
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		if !admin {
			if err := keepAnAdmin(ctx, q, id); err != nil {
				return err
			}
		}
		row, err := q.SetUserAdmin(ctx, sqlitedb.SetUserAdminParams{ID: id, Admin: boolInt(admin)})
		u = userFromRow(row)
		return err
	})
	if err != nil {
		return bookstore.User{}, mapErr(err, msgUserNotFound, "")
	}
	return u, nil
}

// keepAnAdmin fails with ErrLastAdmin when id is the only admin.
func keepAnAdmin(ctx context.Context, q *sqlitedb.Queries, id uuid.UUID) error {
	admins, err := q.ListAdminIDs(ctx)
	if err != nil {
		return err
	}
	if bookstore.RemovesLastAdmin(admins, id) {
		return bookstore.ErrLastAdmin
	}
	return nil
}

func (db *DB) SetPasswordHash(ctx context.Context, id uuid.UUID, verified, hash string) error {
	n, err := db.w.RehashPassword(ctx, sqlitedb.RehashPasswordParams{ID: id, PasswordHash: hash, VerifiedHash: verified})
	if err != nil {
		return mapErr(err, msgUserNotFound, "")
	}
	if n == 0 {
		return bookstore.Errorf(bookstore.ErrConflict, "the password changed since it was verified")
	}
	return nil
}

// ChangePassword runs on the single writer, which orders it against a
// concurrent ChangePassword, DeleteUser or CreateSession of the same user.
func (db *DB) ChangePassword(ctx context.Context, id uuid.UUID, hash string, keep uuid.UUID, now time.Time) error {
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		n, err := q.SetNewPassword(ctx, sqlitedb.SetNewPasswordParams{ID: id, PasswordHash: hash})
		if err != nil {
			return err
		}
		if n == 0 {
			return bookstore.Errorf(bookstore.ErrNotFound, msgUserNotFound)
		}
		// A change from a session (keep) commits only while that session
		// is live: one that an admin's reset or another change ended after
		// this one checked the current password would undo it.
		if keep != uuid.Nil {
			if _, err := q.AuthenticateSession(ctx, sqlitedb.AuthenticateSessionParams{ID: keep, UserID: id, Now: toDB(now)}); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return bookstore.ErrSessionEndedDuringChange
				}
				return err
			}
		}
		return q.RevokeUserSessionsExcept(ctx, sqlitedb.RevokeUserSessionsExceptParams{
			UserID: id, Keep: keep, Now: toDB(now),
		})
	})
	return mapErr(err, msgUserNotFound, "")
}

// DeleteUser relies on ON DELETE CASCADE for the user's books, sessions
// (with their refresh tokens) and idempotency keys.
func (db *DB) DeleteUser(ctx context.Context, id uuid.UUID) error {
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		if err := keepAnAdmin(ctx, q, id); err != nil {
			return err
		}
		n, err := q.DeleteUser(ctx, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return bookstore.Errorf(bookstore.ErrNotFound, msgUserNotFound)
		}
		return nil
	})
	return mapErr(err, msgUserNotFound, "")
}

func (db *DB) CreateFirstAdmin(ctx context.Context, u bookstore.User) (bool, error) {
	created := false
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
		created = false // inTx may run this again
		admins, err := q.ListAdminIDs(ctx)
		if err != nil || len(admins) > 0 {
			return err
		}
		created = true
		u.Admin = true
		return q.CreateUser(ctx, createUserParams(u))
	})
	if err != nil {
		return false, mapErr(err, msgUserNotFound, msgUsernameTaken)
	}
	return created, nil
}

func createUserParams(u bookstore.User) sqlitedb.CreateUserParams {
	return sqlitedb.CreateUserParams{
		ID:                     u.ID,
		Username:               u.Username,
		PasswordHash:           u.PasswordHash,
		Admin:                  boolInt(u.Admin),
		CreatedAt:              toDB(u.CreatedAt),
		PasswordChangeRequired: boolInt(u.PasswordChangeRequired),
	}
}

func userFromRow(r sqlitedb.User) bookstore.User {
	return bookstore.User{
		ID:                     r.ID,
		Username:               r.Username,
		PasswordHash:           r.PasswordHash,
		Admin:                  r.Admin != 0,
		CreatedAt:              fromDB(r.CreatedAt),
		PasswordChangeRequired: r.PasswordChangeRequired != 0,
		CredentialVersion:      r.CredentialVersion,
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
