package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
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
