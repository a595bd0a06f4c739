package bookstore

import (
	"errors"
	"fmt"
)

// The error vocabulary. Stores and auth return these (wrapped in *Error for a
// message a client may read); internal/httpapi is the only place that turns
// them into HTTP statuses.
var (
	ErrInvalid            = errors.New("invalid")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrRefreshReused      = errors.New("refresh token reused")
	ErrThrottled          = errors.New("throttled")
	ErrUnavailable        = errors.New("unavailable")
)

// ErrLastAdmin is the answer to demoting or deleting the only admin: the
// service must always have one, or nobody can administer it without shell
// access. It is a conflict with the current state, not bad input.
var ErrLastAdmin = &Error{Kind: ErrConflict, Message: "the last admin cannot be demoted or deleted: at least one admin must remain; make another user an admin first"}

// ErrSessionEndedDuringChange is ChangePassword's answer when the session
// that asked for the change was ended (by an admin's password reset, or a
// change from another session) after it checked the current password: the
// later change must not undo the earlier one.
var ErrSessionEndedDuringChange = &Error{Kind: ErrUnauthorized, Message: "the session ended while the password was being changed; log in again"}

// ErrCredentialChanged is CreateSession's answer when the user's password
// changed, their sessions were all ended, or the user was deleted after the
// login read the credential it verified.
var ErrCredentialChanged = &Error{Kind: ErrUnauthorized, Message: "the account's credentials changed during the login; log in again"}

// FieldError names one bad field of a request.
type FieldError struct {
	Field   string
	Message string
}

// Error is a domain error whose Message is safe to show to a client.
type Error struct {
	Kind    error // one of the Err* sentinels above
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf makes an *Error of the given kind with a client-safe message.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in named fields.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Kind: ErrInvalid, Message: message, Fields: fields}
}

// ClientMessage is the message of a domain error without its kind
// ("password is too common", not "invalid: password is too common"), and
// the error's text for any other error.
func ClientMessage(err error) string {
	var de *Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}
