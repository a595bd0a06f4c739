package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// refreshTokenPrefix marks refresh tokens so they are recognisable in a
// leaked log or a secret scanner, and cannot be confused with an access
// token.
const refreshTokenPrefix = "bsr_"

// refreshTokenLength is the prefix plus 32 bytes in unpadded base64url.
var refreshTokenLength = len(refreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// NewRefreshToken returns a new opaque refresh token for the client and the
// hash to store in its place; the database never holds a usable token.
func NewRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error; it crashes the program instead
	token = refreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, sha256Sum(token), nil
}

// HashRefreshToken returns the stored hash of a token a client presented.
// Anything not shaped like a refresh token is rejected before hashing with
// a *bookstore.Error of kind ErrUnauthorized.
//
// A plain SHA-256 is enough, unlike for passwords: the token holds 256
// random bits, so there is nothing to guess, and a fast hash keeps the
// lookup a single indexed read.
func HashRefreshToken(token string) ([]byte, error) {
	if len(token) != refreshTokenLength || !strings.HasPrefix(token, refreshTokenPrefix) {
		return nil, bookstore.Errorf(bookstore.ErrUnauthorized, "the refresh token is invalid or expired")
	}
	return sha256Sum(token), nil
}

func sha256Sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
