// Package bookstore holds the domain: users, sessions and books, the store
// interfaces every database adapter implements, the error vocabulary and the
// access rules. It depends on the standard library and uuid only.
package bookstore

import (
	"time"

	"github.com/google/uuid"
)

// User is an account. PasswordHash is a PHC string and never leaves the server.
type User struct {
	ID           uuid.UUID
	Username     string
	PasswordHash string
	Admin        bool
	CreatedAt    time.Time
	// PasswordChangeRequired is set while the password has not been shown
	// to meet today's policy (an imported one, until a login checks it) or
	// failed it: the user's sessions may only change the password.
	PasswordChangeRequired bool
	// CredentialVersion counts password changes and "end every session"
	// orders. A login passes the version it read with the hash it verified
	// to CreateSession, which refuses if it has moved on since.
	CredentialVersion int64
}

// Session is one login: the family of refresh tokens that share it, and the
// access tokens minted from them (their sid claim).
type Session struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // absolute; refresh rotation never extends it
	AuthTime   time.Time // the password login that started it; refresh keeps it
	RevokedAt  *time.Time
	UserAgent  string
	IP         string
}

// Live reports whether the session may still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// Principal is the authenticated caller. Admin is read from the database on
// every request, never from the token.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Username  string
	Admin     bool
	// PasswordChangeRequired: the caller may only change the password (or
	// log out) until they do; see User.
	PasswordChangeRequired bool
	// AuthTime is the auth_time claim of the access token: when the
	// password login behind it happened (zero for tokens without one).
	AuthTime time.Time
}

// Book is one entry of a user's catalogue. Version counts updates and is the
// book's ETag.
type Book struct {
	ID            uuid.UUID
	OwnerID       uuid.UUID
	Title         string
	Author        string
	Publisher     string
	PriceCents    int64
	ISBN          *string // ISBN-13, digits only
	PublishedYear *int
	Version       int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SigningKey is one JWT signing key. Secret is the HMAC key (HS256) or the
// Ed25519 seed (EdDSA); it never leaves the server.
type SigningKey struct {
	KID       string
	Alg       string
	Secret    []byte
	CreatedAt time.Time
	RetiredAt *time.Time
}
