package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// TestLoginWithHashOverCostCapsFailsClosed: an account whose stored hash
// would cost seconds per attempt (scrypt N=2^17 r=16 p=16, 8.7 s before the
// caps) answers every login as a wrong password, never computes it, and the
// server logs an error naming the user.
func TestLoginWithHashOverCostCapsFailsClosed(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	heavy := "scrypt:131072:16:16$salt$" + strings.Repeat("ab", 64)
	if err := api.Store.CreateUser(ctx, bookstore.User{ID: id, Username: "heavy", PasswordHash: heavy, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := api.Client.LoginWithResponse(ctx, oapi.LoginJSONRequestBody{Username: "heavy", Password: strongPassword})
	if err != nil || res.StatusCode() != 401 {
		t.Fatalf("login: %v %d %s", err, res.StatusCode(), res.Body)
	}
	logs := api.Logs.String()
	if !strings.Contains(logs, `"event":"password_hash_unusable"`) || !strings.Contains(logs, id.String()) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("no error log naming the user: %s", logs)
	}
	if strings.Contains(logs, heavy) {
		t.Error("the stored hash was logged")
	}
}

// TestSessionCap: with a cap of 3 live sessions per user, a fourth and a
// fifth login end the two oldest sessions (their tokens stop working at
// once), the newest three stay, and another user is untouched.
func TestSessionCap(t *testing.T) {
	api := newTestAPI(t, func(o *apiOptions) { o.maxSessions = 3 })
	ctx := context.Background()
	first := api.register("alice")
	bob := api.register("bobby")
	logins := []account{first}
	for range 4 {
		logins = append(logins, api.login("alice", strongPassword))
	}
	for i, a := range logins {
		want := 200
		if i < 2 {
			want = 401
		}
		if r, _ := api.Client.GetCurrentUserWithResponse(ctx, a.Auth()); r.StatusCode() != want {
			t.Errorf("login %d: /users/me answers %d, want %d", i, r.StatusCode(), want)
		}
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: logins[0].Refresh}); r.StatusCode() != 401 {
		t.Errorf("refresh of an ended session: %d, want 401", r.StatusCode())
	}
	r, err := api.Client.ListMySessionsWithResponse(ctx, logins[4].Auth())
	if err != nil || r.JSON200 == nil || len(r.JSON200.Items) != 3 {
		t.Fatalf("list sessions: %v %s", err, r.Body)
	}
	if r, _ := api.Client.GetCurrentUserWithResponse(ctx, bob.Auth()); r.StatusCode() != 200 {
		t.Errorf("another user's session: %d", r.StatusCode())
	}
	if !strings.Contains(api.Logs.String(), `"reason":"session_cap"`) {
		t.Error("no log line for the sessions the cap ended")
	}
}

// TestManyRefreshesKeepFewTokens refreshes one session through the API more
// often than a session keeps spent tokens: the newest spent token is still
// caught as reuse, but the first one has been deleted, so presenting it is
// merely invalid and the session lives on. (The row count after 10,000
// refreshes is in the store contract, storetest's Lifecycle.)
func TestManyRefreshesKeepFewTokens(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	tokens := []string{alice.Refresh}
	for i := range bookstore.SpentRefreshTokensKept + 10 {
		r, err := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: tokens[len(tokens)-1]})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("refresh %d: %v %d", i, err, r.StatusCode())
		}
		tokens = append(tokens, r.JSON200.RefreshToken)
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: tokens[0]}); r.StatusCode() != 401 {
		t.Fatalf("the first, long-deleted token: %d, want 401", r.StatusCode())
	}
	if !strings.Contains(api.Logs.String(), "refresh_reuse_detected") {
		// Not reuse: the session must still be live.
		r, err := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: tokens[len(tokens)-1]})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("the current token after an unknown one: %v %d", err, r.StatusCode())
		}
		tokens = append(tokens, r.JSON200.RefreshToken)
	} else {
		t.Fatal("a deleted token was treated as reuse")
	}
	// The newest spent token is still recognised: the session ends.
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: tokens[len(tokens)-2]}); r.StatusCode() != 401 {
		t.Fatalf("reuse of the newest spent token: %d, want 401", r.StatusCode())
	}
	if !strings.Contains(api.Logs.String(), "refresh_reuse_detected") {
		t.Error("reuse of a recent spent token was not detected")
	}
}

// werkzeugSHA256 is the hash werkzeug < 2.3 wrote for
// generate_password_hash(password, method="sha256"): the Flask tutorial's.
func werkzeugSHA256(salt, password string) string {
	mac := hmac.New(sha256.New, []byte(salt))
	mac.Write([]byte(password))
	return "sha256$" + salt + "$" + hex.EncodeToString(mac.Sum(nil))
}

// importUser stores a user as import-seed does: werkzeug hash, flagged
// until a login checks the password against the policy.
func (api *testAPI) importUser(username, password string) uuid.UUID {
	api.t.Helper()
	id := uuid.Must(uuid.NewV7())
	u := bookstore.User{ID: id, Username: username, PasswordHash: werkzeugSHA256("Xq3vB9aZ", password), CreatedAt: time.Now(), PasswordChangeRequired: true}
	if err := api.Store.CreateUser(context.Background(), u); err != nil {
		api.t.Fatal(err)
	}
	return id
}

// TestImportedWeakPasswordForcesChange: an imported admin-era password like
// "hunter2" logs in, but the session can do nothing but change the password
// (or log out) until it does; then the same session works. An imported
// password that passes today's policy is cleared at its first login.
func TestImportedWeakPasswordForcesChange(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	api.importUser("weakling", "hunter2")
	api.importUser("strongling", strongPassword)

	res, err := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "weakling", Password: "hunter2"})
	if err != nil || res.JSON200 == nil {
		t.Fatalf("login with an imported weak password: %v %d %s", err, res.StatusCode(), res.Body)
	}
	if res.JSON200.PasswordChangeRequired == nil || !*res.JSON200.PasswordChangeRequired {
		t.Fatalf("the token response does not say password_change_required: %s", res.Body)
	}
	weak := account{Username: "weakling", Password: "hunter2", Access: res.JSON200.AccessToken, Refresh: res.JSON200.RefreshToken}

	wantGated := func(name string, status int, body []byte) {
		t.Helper()
		if status != 403 || problemOf(t, body).Type != "/problems/password-change-required" {
			t.Errorf("%s before the change: %d %s; want 403 password-change-required", name, status, body)
		}
	}
	me, _ := api.Client.GetCurrentUserWithResponse(ctx, weak.Auth())
	wantGated("GET /users/me", me.StatusCode(), me.Body)
	books, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, weak.Auth())
	wantGated("GET /books", books.StatusCode(), books.Body)
	created, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Dune"), weak.Auth())
	wantGated("POST /books", created.StatusCode(), created.Body)
	sessions, _ := api.Client.ListMySessionsWithResponse(ctx, weak.Auth())
	wantGated("GET /users/me/sessions", sessions.StatusCode(), sessions.Body)
	// A refreshed token is the same session: still held back.
	refreshed, err := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: weak.Refresh})
	if err != nil || refreshed.JSON200 == nil {
		t.Fatalf("refresh: %v %s", err, refreshed.Body)
	}
	weak.Access = refreshed.JSON200.AccessToken
	me, _ = api.Client.GetCurrentUserWithResponse(ctx, weak.Auth())
	wantGated("GET /users/me after a refresh", me.StatusCode(), me.Body)
	// A bad token is still 401, not 403.
	if r, _ := api.Client.GetCurrentUserWithResponse(ctx, bearer(weak.Access+"x")); r.StatusCode() != 401 {
		t.Errorf("a bad token: %d, want 401", r.StatusCode())
	}
	// A new password that breaks the policy is refused as usual.
	if r, _ := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: "hunter2", NewPassword: "hunter3"}, weak.Auth()); r.StatusCode() != 400 {
		t.Errorf("a weak new password: %d, want 400", r.StatusCode())
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, weak.Auth()); me.StatusCode() != 403 {
		t.Errorf("after a refused change: %d, want 403", me.StatusCode())
	}
	if r, _ := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: "hunter2", NewPassword: strongPassword}, weak.Auth()); r.StatusCode() != 204 {
		t.Fatalf("change password: %d %s", r.StatusCode(), r.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, weak.Auth()); me.StatusCode() != 200 {
		t.Errorf("the same session after the change: %d, want 200", me.StatusCode())
	}
	again, _ := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "weakling", Password: strongPassword})
	if again.JSON200 == nil || again.JSON200.PasswordChangeRequired != nil {
		t.Errorf("login after the change: %d %s; want no password_change_required", again.StatusCode(), again.Body)
	}

	// An imported password that meets the policy: no restriction, flag gone.
	strong := api.login("strongling", strongPassword)
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, strong.Auth()); me.StatusCode() != 200 {
		t.Errorf("imported strong password: %d, want 200", me.StatusCode())
	}
	if u, err := api.Store.FindUserByUsername(ctx, "strongling"); err != nil || u.PasswordChangeRequired {
		t.Errorf("the flag of a policy-compliant imported password was kept: %+v %v", u, err)
	}
}

// TestLogoutAllowedBeforePasswordChange: the held-back session can end itself.
func TestLogoutAllowedBeforePasswordChange(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	api.importUser("weakling", "hunter2")
	weak := api.login("weakling", "hunter2")
	if r, _ := api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{RefreshToken: &weak.Refresh}, weak.Auth()); r.StatusCode() != 204 {
		t.Fatalf("logout: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: "hunter2", NewPassword: strongPassword}, weak.Auth()); r.StatusCode() != 401 {
		t.Errorf("the logged-out session: %d, want 401", r.StatusCode())
	}
}

// TestGatedOperationsDeclare403: every operation that takes an access
// token, but the change of password and logout, can answer 403
// password-change-required, so each must declare a 403 in the spec (a new
// operation that forgets it fails here).
func TestGatedOperationsDeclare403(t *testing.T) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			bearer := false
			for _, req := range sec {
				_, ok := req["bearerAuth"]
				bearer = bearer || ok
			}
			if !bearer || op.OperationID == "changePassword" || op.OperationID == "logout" {
				continue
			}
			if op.Responses.Status(403) == nil {
				t.Errorf("%s %s (%s) takes an access token but declares no 403", method, path, op.OperationID)
			}
		}
	}
}
