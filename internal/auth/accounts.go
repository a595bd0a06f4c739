package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// NewUser checks a new account's username and password against the rules
// and returns the user to store, password hashed. Registration, the
// `user create` command and the start-up admin all come through here.
func NewUser(ctx context.Context, h *Hasher, policy PasswordPolicy, username, password string, admin bool, now time.Time) (bookstore.User, error) {
	if err := bookstore.CheckUsername(username); err != nil {
		return bookstore.User{}, err
	}
	if err := policy.Check(username, password); err != nil {
		return bookstore.User{}, err
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return bookstore.User{}, fmt.Errorf("hash password: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return bookstore.User{}, fmt.Errorf("new user id: %w", err)
	}
	return bookstore.User{ID: id, Username: username, PasswordHash: hash, Admin: admin, CreatedAt: now.UTC().Truncate(time.Millisecond)}, nil
}
