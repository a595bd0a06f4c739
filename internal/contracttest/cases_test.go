package contracttest_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
)

// unknownID is a well-formed id that names nothing.
var unknownID = uuid.MustParse("01936f4e-0000-7000-8000-000000000000")

// A cursor that matches the spec's pattern but was not issued by the
// server: its signature does not check.
const forgedCursor = "AAAAAAAAAAAAAAAAAAAAAAAA"

// errorCases are the documented error paths (and success variants) beyond
// the ones every operation gets from casesFor.
func errorCases() []contractCase {
	limits := auth.DefaultThrottleLimits()
	return []contractCase{
		// registerUser
		{op: "registerUser", status: 400, name: "password shorter than the policy's minimum", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			// 13 characters: the default policy wants 15 (the spec leaves the minimum to it).
			return c.RegisterUser(t.Context(), oapi.RegisterRequest{Username: f.username(), Password: "short but 13c"})
		}},
		{op: "registerUser", status: 409, name: "username taken, in other case", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.RegisterUser(t.Context(), oapi.RegisterRequest{Username: strings.ToUpper(who.username), Password: password})
		}},
		{op: "registerUser", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RegisterUserWithBody(t.Context(), "application/json", oversized(`"username":"big","password":"`+password+`"`))
		}},
		{op: "registerUser", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RegisterUserWithBody(t.Context(), "application/x-www-form-urlencoded", strings.NewReader("username=form&password=x"))
		}},
		{op: "registerUser", status: 429, name: "too many registrations from one address", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			const ip = "198.51.100.1"
			// Every attempt counts, refused ones too: attempts the password
			// policy refuses fill the limit without a password hash each.
			fill(t, f, limits.RegisterPerIP, http.StatusBadRequest, func(direct *oapi.Client) (*http.Response, error) {
				return direct.RegisterUser(t.Context(), oapi.RegisterRequest{Username: f.username(), Password: "short but 13c"}, fromAddress(ip))
			})
			return c.RegisterUser(t.Context(), oapi.RegisterRequest{Username: f.username(), Password: password}, fromAddress(ip))
		}},

		// login
		{op: "login", status: 200, name: "HTTP Basic", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.LoginWithBody(t.Context(), "", http.NoBody, noContentType, basic(who.username, who.password))
		}},
		{op: "login", status: 200, name: "HTTP Basic, a password with a colon", around: aroundColon, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			const colon = "colon: part of a long password"
			username := f.username()
			res, err := f.client(t, viaPrism).RegisterUser(t.Context(), oapi.RegisterRequest{Username: username, Password: colon})
			want(t, res, err, http.StatusCreated)
			return c.LoginWithBody(t.Context(), "", http.NoBody, noContentType, basic(username, colon))
		}},
		{op: "login", status: 400, name: "no credentials", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LoginWithBody(t.Context(), "", http.NoBody, noContentType)
		}},
		{op: "login", status: 401, name: "wrong password", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.Login(t.Context(), oapi.LoginRequest{Username: who.username, Password: "not the password at all"})
		}},
		{op: "login", status: 401, name: "HTTP Basic, unknown user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LoginWithBody(t.Context(), "", http.NoBody, noContentType, basic("nobody-here", password))
		}},
		{op: "login", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LoginWithBody(t.Context(), "application/json", oversized(`"username":"root","password":"x"`))
		}},
		{op: "login", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LoginWithBody(t.Context(), "application/x-www-form-urlencoded", strings.NewReader("username=root&password=x"))
		}},
		{op: "login", status: 429, name: "too many failed logins", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			const ip = "198.51.100.2"
			who := f.newAccount(t)
			wrong := oapi.LoginRequest{Username: who.username, Password: "not the password at all"}
			fill(t, f, limits.LoginPerUserIP, http.StatusUnauthorized, func(direct *oapi.Client) (*http.Response, error) {
				return direct.Login(t.Context(), wrong, fromAddress(ip))
			})
			// Refused even with the right password.
			return c.Login(t.Context(), oapi.LoginRequest{Username: who.username, Password: who.password}, fromAddress(ip))
		}},

		// refreshToken
		{op: "refreshToken", status: 400, name: "empty refresh token", around: aroundInvalid, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: ""})
		}},
		{op: "refreshToken", status: 401, name: "unknown refresh token", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: "bsr_not-a-refresh-token"})
		}},
		{op: "refreshToken", status: 401, name: "spent refresh token", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			res, err := c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: who.tokens.RefreshToken})
			want(t, res, err, http.StatusOK)
			return c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: who.tokens.RefreshToken})
		}},
		{op: "refreshToken", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RefreshTokenWithBody(t.Context(), "application/json", oversized(`"refresh_token":"x"`))
		}},
		{op: "refreshToken", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RefreshTokenWithBody(t.Context(), "application/x-www-form-urlencoded", strings.NewReader("refresh_token=x"))
		}},
		{op: "refreshToken", status: 429, name: "too many invalid refresh tokens", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			const ip = "198.51.100.3"
			fill(t, f, limits.RefreshPerIP, http.StatusUnauthorized, func(direct *oapi.Client) (*http.Response, error) {
				return direct.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: "bsr_not-a-refresh-token"}, fromAddress(ip))
			})
			who := f.newAccount(t)
			return c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: who.tokens.RefreshToken}, fromAddress(ip))
		}},

		// logout
		{op: "logout", status: 204, name: "refresh token in the body", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.Logout(t.Context(), oapi.LogoutRequest{RefreshToken: &who.tokens.RefreshToken})
		}},
		{op: "logout", status: 401, name: "unknown refresh token", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			token := "bsr_not-a-refresh-token"
			return c.Logout(t.Context(), oapi.LogoutRequest{RefreshToken: &token})
		}},
		{op: "logout", status: 429, name: "refresh token from a throttled address", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			const ip = "198.51.100.4"
			fill(t, f, limits.RefreshPerIP, http.StatusUnauthorized, func(direct *oapi.Client) (*http.Response, error) {
				return direct.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: "bsr_not-a-refresh-token"}, fromAddress(ip))
			})
			who := f.newAccount(t)
			return c.Logout(t.Context(), oapi.LogoutRequest{RefreshToken: &who.tokens.RefreshToken}, fromAddress(ip))
		}},
		{op: "logout", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LogoutWithBody(t.Context(), "application/json", oversized(`"refresh_token":"x"`))
		}},
		{op: "logout", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.LogoutWithBody(t.Context(), "application/x-www-form-urlencoded", strings.NewReader("refresh_token=x"))
		}},

		// changePassword
		{op: "changePassword", status: 400, name: "new password same as current", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: who.password, NewPassword: who.password}, bearer(who.tokens.AccessToken))
		}},
		{op: "changePassword", status: 400, name: "new password shorter than the policy's minimum", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: who.password, NewPassword: "short but 13c"}, bearer(who.tokens.AccessToken))
		}},
		{op: "changePassword", status: 403, name: "wrong current password", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: "not the password at all", NewPassword: newPassword}, bearer(who.tokens.AccessToken))
		}},
		{op: "changePassword", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.ChangePasswordWithBody(t.Context(), "application/json", oversized(`"current_password":"x","new_password":"y"`), bearer(who.tokens.AccessToken))
		}},
		{op: "changePassword", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.ChangePasswordWithBody(t.Context(), "application/x-www-form-urlencoded", strings.NewReader("current_password=x"), bearer(who.tokens.AccessToken))
		}},
		{op: "changePassword", status: 429, name: "too many wrong current passwords", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			fill(t, f, limits.PasswordPerUser, http.StatusForbidden, func(direct *oapi.Client) (*http.Response, error) {
				return direct.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: "not the password at all", NewPassword: newPassword}, bearer(who.tokens.AccessToken))
			})
			return c.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: who.password, NewPassword: newPassword}, bearer(who.tokens.AccessToken))
		}},

		// revokeMySession
		{op: "revokeMySession", status: 404, name: "no such session", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.RevokeMySession(t.Context(), unknownID, bearer(who.tokens.AccessToken))
		}},
		{op: "revokeMySession", status: 404, name: "another user's session", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who, other := f.newAccount(t), f.newAccount(t)
			return c.RevokeMySession(t.Context(), f.currentSessionID(t, other), bearer(who.tokens.AccessToken))
		}},

		// listUsers
		{op: "listUsers", status: 200, name: "second page, filtered", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			f.newAccount(t)
			f.newAccount(t)
			limit, q := 1, "user"
			res, err := c.ListUsers(t.Context(), &oapi.ListUsersParams{Limit: &limit, Q: &q}, bearer(f.admin.tokens.AccessToken))
			page := decode[oapi.UserPage](t, want(t, res, err, http.StatusOK))
			next, err := page.NextCursor.Get()
			if err != nil {
				t.Fatal("no next_cursor with more users than the limit")
			}
			return c.ListUsers(t.Context(), &oapi.ListUsersParams{Limit: &limit, Q: &q, Cursor: &next}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "listUsers", status: 400, name: "forged cursor", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			cursor := forgedCursor
			return c.ListUsers(t.Context(), &oapi.ListUsersParams{Cursor: &cursor}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "listUsers", status: 400, name: "limit out of range", around: aroundInvalid, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			limit := 0
			return c.ListUsers(t.Context(), &oapi.ListUsersParams{Limit: &limit}, bearer(f.admin.tokens.AccessToken))
		}},

		// getUser
		{op: "getUser", status: 200, name: "an admin reads another user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.GetUser(t.Context(), who.id, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "getUser", status: 404, name: "another user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who, other := f.newAccount(t), f.newAccount(t)
			return c.GetUser(t.Context(), other.id, bearer(who.tokens.AccessToken))
		}},
		{op: "getUser", status: 404, name: "no such user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.GetUser(t.Context(), unknownID, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "getUser", status: 400, name: "id not a uuid", around: aroundInvalid, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.serverURL+"/users/not-a-uuid", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+who.tokens.AccessToken)
			return c.Client.Do(req)
		}},

		// updateUser
		{op: "updateUser", status: 200, name: "an admin removes admin", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			res, err := c.UpdateUserWithApplicationMergePatchPlusJSONBody(t.Context(), who.id, oapi.UserPatch{Admin: true}, bearer(f.admin.tokens.AccessToken))
			want(t, res, err, http.StatusOK)
			return c.UpdateUserWithApplicationMergePatchPlusJSONBody(t.Context(), who.id, oapi.UserPatch{Admin: false}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "updateUser", status: 404, name: "no such user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.UpdateUserWithApplicationMergePatchPlusJSONBody(t.Context(), unknownID, oapi.UserPatch{Admin: true}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "updateUser", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.UpdateUserWithBody(t.Context(), who.id, "application/merge-patch+json", oversized(`"admin":true`), bearer(f.admin.tokens.AccessToken))
		}},
		{op: "updateUser", status: 415, name: "plain JSON instead of a merge patch", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.UpdateUserWithBody(t.Context(), who.id, "application/json", strings.NewReader(`{"admin":true}`), bearer(f.admin.tokens.AccessToken))
		}},

		// deleteUser
		{op: "deleteUser", status: 204, name: "an admin deletes another user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			f.newBook(t, who)
			return c.DeleteUser(t.Context(), who.id, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "deleteUser", status: 404, name: "another user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who, other := f.newAccount(t), f.newAccount(t)
			return c.DeleteUser(t.Context(), other.id, bearer(who.tokens.AccessToken))
		}},
		{op: "deleteUser", status: 404, name: "no such user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.DeleteUser(t.Context(), unknownID, bearer(f.admin.tokens.AccessToken))
		}},

		// setUserPassword
		{op: "setUserPassword", status: 400, name: "password shorter than the policy's minimum", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.SetUserPassword(t.Context(), f.bystander.id, oapi.PasswordSet{Password: "short but 13c"}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "setUserPassword", status: 404, name: "no such user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.SetUserPassword(t.Context(), unknownID, oapi.PasswordSet{Password: newPassword}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "setUserPassword", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.SetUserPasswordWithBody(t.Context(), f.bystander.id, "application/json", oversized(`"password":"y"`), bearer(f.admin.tokens.AccessToken))
		}},
		{op: "setUserPassword", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.SetUserPasswordWithBody(t.Context(), f.bystander.id, "application/x-www-form-urlencoded", strings.NewReader("password=x"), bearer(f.admin.tokens.AccessToken))
		}},

		// revokeUserSessions
		{op: "revokeUserSessions", status: 404, name: "no such user", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			return c.RevokeUserSessions(t.Context(), unknownID, bearer(f.admin.tokens.AccessToken))
		}},

		// createBook
		{op: "createBook", status: 201, name: "retry with the same Idempotency-Key", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			key, book := uuid.NewString(), bookCreate(f.seq.Add(1))
			res, err := c.CreateBook(t.Context(), &oapi.CreateBookParams{IdempotencyKey: &key}, book, bearer(who.tokens.AccessToken))
			want(t, res, err, http.StatusCreated)
			return c.CreateBook(t.Context(), &oapi.CreateBookParams{IdempotencyKey: &key}, book, bearer(who.tokens.AccessToken))
		}},
		{op: "createBook", status: 409, name: "same Idempotency-Key, another body", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			key := uuid.NewString()
			res, err := c.CreateBook(t.Context(), &oapi.CreateBookParams{IdempotencyKey: &key}, bookCreate(f.seq.Add(1)), bearer(who.tokens.AccessToken))
			want(t, res, err, http.StatusCreated)
			return c.CreateBook(t.Context(), &oapi.CreateBookParams{IdempotencyKey: &key}, bookCreate(f.seq.Add(1)), bearer(who.tokens.AccessToken))
		}},
		{op: "createBook", status: 409, name: "ISBN already in the catalogue", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			n := f.seq.Add(1)
			res, err := c.CreateBook(t.Context(), &oapi.CreateBookParams{}, bookCreate(n), bearer(who.tokens.AccessToken))
			want(t, res, err, http.StatusCreated)
			return c.CreateBook(t.Context(), &oapi.CreateBookParams{}, bookCreate(n), bearer(who.tokens.AccessToken))
		}},
		{op: "createBook", status: 400, name: "ISBN with a wrong check digit", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book := bookCreate(f.seq.Add(1))
			book.Isbn.Set("978-0-261-10221-8")
			return c.CreateBook(t.Context(), &oapi.CreateBookParams{}, book, bearer(who.tokens.AccessToken))
		}},
		{op: "createBook", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.CreateBookWithBody(t.Context(), &oapi.CreateBookParams{}, "application/json", oversized(`"title":"t","author":"a","publisher":"p","price_cents":1`), bearer(who.tokens.AccessToken))
		}},
		{op: "createBook", status: 415, name: "form body", around: aroundMedia, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.CreateBookWithBody(t.Context(), &oapi.CreateBookParams{}, "application/x-www-form-urlencoded", strings.NewReader("title=t"), bearer(who.tokens.AccessToken))
		}},

		// listBooks
		{op: "listBooks", status: 200, name: "second page, filtered and sorted", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			f.newBook(t, who)
			f.newBook(t, who)
			limit, q, sort := 1, "book", oapi.BookSortMinusTitle
			params := &oapi.ListBooksParams{Limit: &limit, Q: &q, Sort: &sort}
			res, err := c.ListBooks(t.Context(), params, bearer(who.tokens.AccessToken))
			page := decode[oapi.BookPage](t, want(t, res, err, http.StatusOK))
			next, err := page.NextCursor.Get()
			if err != nil {
				t.Fatal("no next_cursor with more books than the limit")
			}
			params.Cursor = &next
			return c.ListBooks(t.Context(), params, bearer(who.tokens.AccessToken))
		}},
		{op: "listBooks", status: 200, name: "an admin lists everyone's", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			owner := "all"
			return c.ListBooks(t.Context(), &oapi.ListBooksParams{Owner: &owner}, bearer(f.admin.tokens.AccessToken))
		}},
		{op: "listBooks", status: 400, name: "forged cursor", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			cursor := forgedCursor
			return c.ListBooks(t.Context(), &oapi.ListBooksParams{Cursor: &cursor}, bearer(who.tokens.AccessToken))
		}},
		{op: "listBooks", status: 400, name: "unknown sort", around: aroundInvalid, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			sort := oapi.BookSort("author")
			return c.ListBooks(t.Context(), &oapi.ListBooksParams{Sort: &sort}, bearer(who.tokens.AccessToken))
		}},
		{op: "listBooks", status: 403, name: "a non-admin asks for everyone's", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			owner := "all"
			return c.ListBooks(t.Context(), &oapi.ListBooksParams{Owner: &owner}, bearer(who.tokens.AccessToken))
		}},

		// getBook
		{op: "getBook", status: 404, name: "another user's book", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who, other := f.newAccount(t), f.newAccount(t)
			book, _ := f.newBook(t, other)
			return c.GetBook(t.Context(), book.Id, bearer(who.tokens.AccessToken))
		}},

		// updateBook
		{op: "updateBook", status: 200, name: "with the current ETag, clearing the ISBN", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, etag := f.newBook(t, who)
			var patch oapi.BookPatch
			patch.Isbn.SetNull()
			return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{IfMatch: &etag}, patch, bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 400, name: "ISBN with a wrong check digit", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, _ := f.newBook(t, who)
			var patch oapi.BookPatch
			patch.Isbn.Set("978-0-261-10221-8")
			return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, patch, bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 404, name: "another user's book", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who, other := f.newAccount(t), f.newAccount(t)
			book, _ := f.newBook(t, other)
			price := int64(1)
			return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, oapi.BookPatch{PriceCents: &price}, bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 409, name: "ISBN of another book of yours", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			first, _ := f.newBook(t, who)
			second, _ := f.newBook(t, who)
			var patch oapi.BookPatch
			patch.Isbn.Set(first.Isbn.MustGet())
			return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), second.Id, &oapi.UpdateBookParams{}, patch, bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 412, name: "stale If-Match", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, etag := f.newBook(t, who)
			price := int64(1)
			res, err := c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{IfMatch: &etag}, oapi.BookPatch{PriceCents: &price}, bearer(who.tokens.AccessToken))
			want(t, res, err, http.StatusOK)
			price = 2
			return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{IfMatch: &etag}, oapi.BookPatch{PriceCents: &price}, bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 413, name: "body over 1 MiB", around: aroundTooBig, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, _ := f.newBook(t, who)
			return c.UpdateBookWithBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, "application/merge-patch+json", oversized(`"price_cents":1`), bearer(who.tokens.AccessToken))
		}},
		{op: "updateBook", status: 415, name: "plain JSON instead of a merge patch", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, _ := f.newBook(t, who)
			return c.UpdateBookWithBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, "application/json", strings.NewReader(`{"price_cents":1}`), bearer(who.tokens.AccessToken))
		}},

		// Operations that take no body do not read one: not even a body
		// over the limit makes them fail.
		{op: "getHealth", status: 200, name: "a body over 1 MiB, unread", around: aroundBodiless, run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.serverURL+"/healthz", oversized(`"a":1`))
			if err != nil {
				t.Fatal(err)
			}
			return c.Client.Do(req)
		}},

		// deleteBook
		{op: "deleteBook", status: 204, name: "with the current ETag", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, etag := f.newBook(t, who)
			return c.DeleteBook(t.Context(), book.Id, &oapi.DeleteBookParams{IfMatch: &etag}, bearer(who.tokens.AccessToken))
		}},
		{op: "deleteBook", status: 404, name: "no such book", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			return c.DeleteBook(t.Context(), unknownID, &oapi.DeleteBookParams{}, bearer(who.tokens.AccessToken))
		}},
		{op: "deleteBook", status: 412, name: "stale If-Match", run: func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.newAccount(t)
			book, etag := f.newBook(t, who)
			price := int64(1)
			res, err := c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, oapi.BookPatch{PriceCents: &price}, bearer(who.tokens.AccessToken))
			want(t, res, err, http.StatusOK)
			return c.DeleteBook(t.Context(), book.Id, &oapi.DeleteBookParams{IfMatch: &etag}, bearer(who.tokens.AccessToken))
		}},
	}
}

// fill sends n requests straight to the server (see aroundFill), four at a
// time, to bring a throttle to its limit; each must get status.
func fill(t *testing.T, f *fixture, n, status int, send func(direct *oapi.Client) (*http.Response, error)) {
	t.Helper()
	direct := f.client(t, viaDirect)
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range work {
				res, err := send(direct)
				if err != nil {
					t.Error(err)
				} else if res.StatusCode != status {
					t.Errorf("filling the throttle: status %d, want %d", res.StatusCode, status)
				}
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}
