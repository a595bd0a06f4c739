package client

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
)

// The API's models, as api/openapi.yaml defines them.
type (
	Book            = oapi.Book
	BookCreate      = oapi.BookCreate
	BookPatch       = oapi.BookPatch
	BookPage        = oapi.BookPage
	BookSort        = oapi.BookSort
	ListBooksParams = oapi.ListBooksParams
	User            = oapi.User
	UserPage        = oapi.UserPage
	ListUsersParams = oapi.ListUsersParams
	Session         = oapi.Session
)

// Register creates an account. It does not log in.
func (c *Client) Register(ctx context.Context, username, password string) (User, error) {
	u, _, err := call[User](c, ctx, http.StatusCreated, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.RegisterUser(ctx, oapi.RegisterRequest{Username: username, Password: password}, e)
	})
	return u, err
}

// Me returns the logged-in user's account.
func (c *Client) Me(ctx context.Context) (User, error) {
	u, _, err := call[User](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.GetCurrentUser(ctx, e)
	})
	return u, err
}

// ChangePassword changes the logged-in user's password. Every other
// session of the user ends; this client's stays.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.ChangePassword(ctx, oapi.PasswordChange{CurrentPassword: current, NewPassword: next}, e)
	})
}

// Sessions lists the logged-in user's live sessions, newest first.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	list, _, err := call[oapi.SessionList](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.ListMySessions(ctx, e)
	})
	return list.Items, err
}

// RevokeSession ends one of the logged-in user's sessions.
func (c *Client) RevokeSession(ctx context.Context, id uuid.UUID) error {
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.RevokeMySession(ctx, id, e)
	})
}

// ListUsers lists users by username (admins only). params may be nil.
func (c *Client) ListUsers(ctx context.Context, params *ListUsersParams) (UserPage, error) {
	page, _, err := call[UserPage](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.ListUsers(ctx, params, e)
	})
	return page, err
}

// User returns a user's account (oneself, or anyone for an admin).
func (c *Client) User(ctx context.Context, id uuid.UUID) (User, error) {
	u, _, err := call[User](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.GetUser(ctx, id, e)
	})
	return u, err
}

// SetAdmin makes a user an admin or not (admins only).
func (c *Client) SetAdmin(ctx context.Context, id uuid.UUID, admin bool) (User, error) {
	u, _, err := call[User](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.UpdateUserWithApplicationMergePatchPlusJSONBody(ctx, id, oapi.UserPatch{Admin: admin}, e)
	})
	return u, err
}

// DeleteUser deletes a user with their books and sessions (oneself, or
// anyone for an admin).
func (c *Client) DeleteUser(ctx context.Context, id uuid.UUID) error {
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.DeleteUser(ctx, id, e)
	})
}

// SetUserPassword sets another user's password and ends all their sessions
// (admins only): account recovery for someone who lost theirs.
func (c *Client) SetUserPassword(ctx context.Context, id uuid.UUID, password string) error {
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.SetUserPassword(ctx, id, oapi.PasswordSet{Password: password}, e)
	})
}

// RevokeUserSessions ends every session of a user (oneself, or anyone for
// an admin).
func (c *Client) RevokeUserSessions(ctx context.Context, id uuid.UUID) error {
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.RevokeUserSessions(ctx, id, e)
	})
}

// CreateBook adds a book. With an idempotencyKey (any unique string; ""
// for none), sending the same create again returns the first result
// instead of a second book, so a create whose answer was lost can be
// retried safely.
func (c *Client) CreateBook(ctx context.Context, b BookCreate, idempotencyKey string) (Book, error) {
	params := &oapi.CreateBookParams{}
	if idempotencyKey != "" {
		params.IdempotencyKey = &idempotencyKey
	}
	book, _, err := call[Book](c, ctx, http.StatusCreated, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.CreateBook(ctx, params, b, e)
	})
	return book, err
}

// ListBooks returns one page of the user's books (an admin's, with
// owner=all, everyone's). params may be nil; pass the page's NextCursor as
// the next call's Cursor.
func (c *Client) ListBooks(ctx context.Context, params *ListBooksParams) (BookPage, error) {
	page, _, err := call[BookPage](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.ListBooks(ctx, params, e)
	})
	return page, err
}

// Book returns a book and its ETag (its version, for UpdateBook and
// DeleteBook).
func (c *Client) Book(ctx context.Context, id uuid.UUID) (Book, string, error) {
	book, h, err := call[Book](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.GetBook(ctx, id, e)
	})
	return book, h.Get("ETag"), err
}

// UpdateBook changes the fields patch sets (a JSON merge patch: a field
// set to null is cleared). With ifMatch (an ETag; "" for none) the update
// happens only if the book is still that version, else the error's
// Problem has TypePreconditionFailed. It returns the book and its new ETag.
func (c *Client) UpdateBook(ctx context.Context, id uuid.UUID, patch BookPatch, ifMatch string) (Book, string, error) {
	params := &oapi.UpdateBookParams{}
	if ifMatch != "" {
		params.IfMatch = &ifMatch
	}
	book, h, err := call[Book](c, ctx, http.StatusOK, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.UpdateBookWithApplicationMergePatchPlusJSONBody(ctx, id, params, patch, e)
	})
	return book, h.Get("ETag"), err
}

// DeleteBook deletes a book; with ifMatch (an ETag; "" for none) only if
// it is still that version.
func (c *Client) DeleteBook(ctx context.Context, id uuid.UUID, ifMatch string) error {
	params := &oapi.DeleteBookParams{}
	if ifMatch != "" {
		params.IfMatch = &ifMatch
	}
	return c.callNoContent(ctx, http.StatusNoContent, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.DeleteBook(ctx, id, params, e)
	})
}
