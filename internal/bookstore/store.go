package bookstore

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store is everything a database adapter provides. internal/sqlite and
// internal/postgres implement it; internal/storetest is the contract they
// both pass. Methods speak domain types and return the errors of errors.go
// (ErrUnavailable when the database cannot answer right now).
type Store interface {
	UserStore
	SessionStore
	BookStore
	KeyStore
	ThrottleStore
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// UserFilter selects a page of users, ordered by username then id.
type UserFilter struct {
	Query string // substring of the username, matched case-insensitively and literally
	After *User  // keyset position: the last user of the previous page (Username and ID)
	Limit int
}

type UserStore interface {
	// CreateUser fails with ErrConflict when the username is taken, compared
	// case-insensitively.
	CreateUser(ctx context.Context, u User) error
	FindUserByID(ctx context.Context, id uuid.UUID) (User, error)
	// FindUserByUsername matches case-insensitively.
	FindUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// SetUserAdmin fails with ErrLastAdmin when it would demote the only
	// admin; of concurrent demotions of the last admins, at most all but one
	// succeed.
	SetUserAdmin(ctx context.Context, id uuid.UUID, admin bool) (User, error)
	// SetPasswordHash replaces the hash alone (a transparent parameter
	// upgrade), only if it is still verified: ErrConflict otherwise, so an
	// upgrade never undoes a password change.
	SetPasswordHash(ctx context.Context, id uuid.UUID, verified, hash string) error
	// SetPasswordChangeRequired sets or clears the user's flag
	// (ErrNotFound if there is no such user).
	SetPasswordChangeRequired(ctx context.Context, id uuid.UUID, required bool) error
	// ImportUser creates u and records that it came from source's sourceID,
	// in one transaction. When that source id was imported before (even if
	// the account has been deleted since) nothing changes and created is
	// false. A taken username is ErrConflict, and nothing is recorded.
	ImportUser(ctx context.Context, u User, source, sourceID string, now time.Time) (created bool, err error)
	// ChangePassword replaces the hash (a password chosen under today's
	// policy, so it clears PasswordChangeRequired), moves the credential
	// version on and revokes every session of the user but keep (uuid.Nil
	// keeps none), in one transaction.
	ChangePassword(ctx context.Context, id uuid.UUID, hash string, keep uuid.UUID, now time.Time) error
	// DeleteUser removes the user with their books and sessions. It fails
	// with ErrLastAdmin for the only admin.
	DeleteUser(ctx context.Context, id uuid.UUID) error
	// CreateFirstAdmin creates u (an admin) only if there is no admin at
	// all, reporting whether it did.
	CreateFirstAdmin(ctx context.Context, u User) (bool, error)
}

type SessionStore interface {
	// CreateSession stores s with its first refresh token (as a hash), if
	// the user's credential version is still credentialVersion (the one read
	// with the password hash the login verified); else ErrCredentialChanged.
	// The check and the insert are one transaction.
	CreateSession(ctx context.Context, s Session, refreshHash []byte, credentialVersion int64) error
	// AuthenticateSession returns the caller when the session is live and
	// belongs to userID, else ErrUnauthorized. It records last use at most
	// once a minute, so the read path rarely writes.
	AuthenticateSession(ctx context.Context, sessionID, userID uuid.UUID, now time.Time) (Principal, error)
	// RotateRefreshToken spends oldHash and stores newHash in its place,
	// keeping the session's newest SpentRefreshTokensKept spent tokens. An
	// unknown token, or one whose session is no longer live, is
	// ErrUnauthorized. A token already spent revokes its whole session and
	// is ErrRefreshReused; the session it revoked is returned with that
	// error, so the alert can name it.
	RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time) (Session, error)
	// RevokeSessionByRefreshToken revokes the session of a current refresh
	// token (ErrUnauthorized when there is none).
	RevokeSessionByRefreshToken(ctx context.Context, hash []byte, now time.Time) (Session, error)
	// RevokeSession revokes one live session of userID (ErrNotFound otherwise).
	RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, now time.Time) error
	// RevokeUserSessions revokes every session of userID and moves the
	// credential version on, so logins in flight start none either
	// (ErrNotFound for an unknown user).
	RevokeUserSessions(ctx context.Context, userID uuid.UUID, now time.Time) error
	// ListSessions returns the live sessions of userID, newest first.
	ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]Session, error)
	// RevokeExcessSessions ends every live session of userID but the
	// newest keep (by creation), in one statement, and says how many.
	RevokeExcessSessions(ctx context.Context, userID uuid.UUID, keep int, now time.Time) (int64, error)
	// PurgeSessions deletes one batch (at most batch rows each) of sessions
	// that expired or were revoked before `before`, with their refresh
	// tokens, and of refresh tokens spent before `before`, and says how many
	// of each. Each delete is its own short transaction; callers repeat
	// until both counts are below batch.
	PurgeSessions(ctx context.Context, before time.Time, batch int) (sessions, tokens int64, err error)
}

// SpentRefreshTokensKept is how many spent refresh tokens a session keeps,
// newest first, for RotateRefreshToken to recognise their reuse: older ones
// are deleted as the session refreshes, so its rows stay bounded however
// often it does. Presenting a token older than that is an unknown token.
const SpentRefreshTokensKept = 32

// BookSort is a list order: a field, descending when prefixed with '-'.
type BookSort string

const (
	SortTitle          BookSort = "title"
	SortTitleDesc      BookSort = "-title"
	SortCreatedAt      BookSort = "created_at"
	SortCreatedAtDesc  BookSort = "-created_at"
	SortPriceCents     BookSort = "price_cents"
	SortPriceCentsDesc BookSort = "-price_cents"
)

// BookSorts lists every valid BookSort.
var BookSorts = []BookSort{SortTitle, SortTitleDesc, SortCreatedAt, SortCreatedAtDesc, SortPriceCents, SortPriceCentsDesc}

// BookFilter selects a page of books. Titles order case-insensitively; ties
// break on id in the same direction.
type BookFilter struct {
	OwnerID *uuid.UUID // nil: every owner's books
	Query   string     // substring of title or author, case-insensitive, wildcards literal
	Author  string     // exact author, case-insensitive
	Sort    BookSort
	After   *Book // keyset position: the last book of the previous page (its sort field and ID)
	Limit   int
}

// IdempotencyKey makes a create safe to retry: the same key with the same
// request fingerprint returns the book the first request created.
type IdempotencyKey struct {
	Key         string
	Fingerprint []byte
}

type BookStore interface {
	// CreateBook inserts b. With a key already used by the owner it returns
	// the book made then (same fingerprint) or ErrConflict (another body).
	// A second book with the owner's ISBN is ErrConflict.
	CreateBook(ctx context.Context, b Book, key *IdempotencyKey) (Book, error)
	FindBookByID(ctx context.Context, id uuid.UUID) (Book, error)
	ListBooks(ctx context.Context, f BookFilter) ([]Book, error)
	// UpdateBook runs change on the current book inside a transaction and
	// stores the result with Version+1 and UpdatedAt as change left it. An
	// error from change aborts the update and is returned as is. change may
	// run more than once when the database retries the transaction.
	UpdateBook(ctx context.Context, id uuid.UUID, change func(*Book) error) (Book, error)
	// DeleteBook deletes the book if check (run inside the transaction on
	// the current book) returns nil.
	DeleteBook(ctx context.Context, id uuid.UUID, check func(Book) error) error
}

type KeyStore interface {
	// SigningKeys returns every signing key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores a new key (ErrConflict if the kid exists).
	AddSigningKey(ctx context.Context, k SigningKey) error
	// RotateSigningKey stores k as the new signing key and marks every
	// other key that is not yet retired as retired at now, in one transaction.
	// (ErrConflict if the kid exists, and then nothing changes.)
	RotateSigningKey(ctx context.Context, k SigningKey, now time.Time) error
	// RetireSigningKeys marks every key that is not yet retired, except the
	// one named keep ("" for none), as retired at now, and says how many. A
	// key already retired keeps its time: a retirement is stored once.
	RetireSigningKeys(ctx context.Context, keep string, now time.Time) (int64, error)
	// RevokeSigningKey deletes the key kid at once, retired or not
	// (ErrNotFound if there is none). If it was live, successor becomes the
	// signing key as in RotateSigningKey, in the same transaction, and
	// replaced is true.
	RevokeSigningKey(ctx context.Context, kid string, successor SigningKey, now time.Time) (replaced bool, err error)
	// DeleteRetiredSigningKeys removes keys retired before `before`, whose
	// tokens have all expired, and says how many.
	DeleteRetiredSigningKeys(ctx context.Context, before time.Time) (int64, error)
	// Secret returns the named server secret, storing generate's value the
	// first time; concurrent first calls all see the one that was stored.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}

// ThrottleStore keeps fixed-window event counters in the database, so every
// replica and every restart sees the same counts, and the addresses that
// recently logged into an account.
type ThrottleStore interface {
	// TakeThrottle takes one of key's limit slots, atomically: it counts the
	// event and says ok while the window's count is below limit, and changes
	// nothing once it is reached, however many calls arrive at once. A window
	// starts at the first event and lasts window; the count restarts when it
	// has ended. resetAt is when the current window ends.
	TakeThrottle(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (ok bool, resetAt time.Time, err error)
	// RefundThrottle gives back one slot taken in key's current window.
	RefundThrottle(ctx context.Context, key string, now time.Time) error
	// ClearThrottle forgets key's count.
	ClearThrottle(ctx context.Context, key string) error
	// RememberLoginAddress records key (an account and an address) until
	// expiresAt; again, it moves expiresAt.
	RememberLoginAddress(ctx context.Context, key string, expiresAt time.Time) error
	// IsLoginAddress says whether key was remembered and has not expired.
	IsLoginAddress(ctx context.Context, key string, now time.Time) (bool, error)
	// SweepThrottle deletes every ended window and expired login address
	// and says how many.
	SweepThrottle(ctx context.Context, now time.Time) (int64, error)
}
