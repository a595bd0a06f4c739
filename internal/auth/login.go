package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// ErrInvalidCredentials is the one answer for an unknown username and for a
// wrong password, so neither can be told from the other.
var ErrInvalidCredentials = bookstore.Errorf(bookstore.ErrUnauthorized, "the username or password is wrong")

// CheckPassword returns the user whose username and password these are,
// else ErrInvalidCredentials (with ErrUnusableHash also in the chain when
// the user's stored hash cannot be verified, which deserves a logged error). An unknown username costs one hash, as a
// wrong password does, so timing tells nothing either. A stored hash with
// outdated parameters is upgraded while the password is at hand; if that
// write fails the upgrade simply waits for the next login. The upgrade
// replaces only the hash that was verified, so it never undoes a password
// change that committed meanwhile; the user returned carries the credential
// version read with that hash, for CreateSession.
func (h *Hasher) CheckPassword(ctx context.Context, users bookstore.UserStore, username, password string) (bookstore.User, error) {
	u, err := users.FindUserByUsername(ctx, username)
	if errors.Is(err, bookstore.ErrNotFound) {
		if _, err := h.VerifyDummy(ctx, password); err != nil {
			return bookstore.User{}, err
		}
		return bookstore.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return bookstore.User{}, err
	}
	ok, needsRehash, err := h.Verify(ctx, u.PasswordHash, password)
	if errors.Is(err, ErrUnusableHash) {
		// Fail closed, at the cost of any other wrong password: a broken or
		// over-cost stored hash is not computed, and must not be told apart
		// by the answer or its time. The caller logs the cause.
		if _, err := h.VerifyDummy(ctx, password); err != nil {
			return bookstore.User{}, err
		}
		return bookstore.User{}, fmt.Errorf("%w (user %s: %w)", ErrInvalidCredentials, u.ID, err)
	}
	if err != nil {
		return bookstore.User{}, err
	}
	if !ok {
		return bookstore.User{}, ErrInvalidCredentials
	}
	if needsRehash {
		if hash, err := h.Hash(ctx, password); err == nil && users.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash) == nil {
			u.PasswordHash = hash
		}
	}
	return u, nil
}
