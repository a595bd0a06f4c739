package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// heldLogins is how many logins with the old password are held inside
// their password check while a credential change commits.
const heldLogins = 4

// TestCredentialChangesWinRacingLogins holds logins with the old password
// after they have read the account and while their hash runs, commits a
// credential change through the API, then lets the logins finish: none may
// start a session (issue 15, item 1).
func TestCredentialChangesWinRacingLogins(t *testing.T) {
	changes := []struct {
		name string
		// change makes the change as alice (her account a) or the admin root.
		change func(api *testAPI, a, root account) int
		// kept is how many of alice's sessions the change leaves (her own
		// current one, on a password change).
		kept int
	}{
		{"password change", func(api *testAPI, a, _ account) int {
			body := `{"current_password":"` + strongPassword + `","new_password":"a brand new and long passphrase"}`
			res, _ := api.do("PUT", "/users/me/password", jsonHeader(a.Access), body)
			return res.StatusCode
		}, 1},
		{"admin sets the password", func(api *testAPI, a, root account) int {
			res, _ := api.do("PUT", "/users/"+a.ID+"/password", jsonHeader(root.Access), `{"password":"a brand new and long passphrase"}`)
			return res.StatusCode
		}, 0},
		{"admin ends every session", func(api *testAPI, a, root account) int {
			res, _ := api.do("DELETE", "/users/"+a.ID+"/sessions", jsonHeader(root.Access), "")
			return res.StatusCode
		}, 0},
		{"admin deletes the user", func(api *testAPI, a, root account) int {
			res, _ := api.do("DELETE", "/users/"+a.ID, jsonHeader(root.Access), "")
			return res.StatusCode
		}, 0},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			// Hold the first heldLogins logins of alice once they have read
			// her account (hash and credential version), before their
			// password check and session: the change commits meanwhile.
			held := &holdingStore{username: "alice", inside: make(chan struct{}, heldLogins), release: make(chan struct{})}
			api := newTestAPI(t, func(o *apiOptions) {
				o.wrapStore = func(db bookstore.Store) bookstore.Store { held.Store = db; return held }
			})
			root := api.admin("root")
			alice := api.register("alice")
			aliceID := uuid.MustParse(alice.ID)
			held.holding.Store(heldLogins)
			inside, release := held.inside, held.release

			statuses := make(chan int, heldLogins)
			var wg sync.WaitGroup
			for range heldLogins {
				wg.Go(func() {
					res, _ := api.do("POST", "/auth/login", jsonHeader(""), `{"username":"alice","password":"`+strongPassword+`"}`)
					statuses <- res.StatusCode
				})
			}
			for range heldLogins {
				<-inside
			}
			if got := c.change(api, alice, root); got != 204 {
				t.Fatalf("the change answered %d", got)
			}
			close(release)
			wg.Wait()
			close(statuses)
			for s := range statuses {
				if s != 401 {
					t.Errorf("a login checked against the old credential answered %d, want 401", s)
				}
			}
			live, err := api.Store.ListSessions(context.Background(), aliceID, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(live) != c.kept {
				t.Fatalf("%d live sessions after the change, want %d", len(live), c.kept)
			}
		})
	}
}

// TestAdminSetsPassword is account recovery through the API: the new
// password works, the old one and every old session do not, and it is
// audited.
func TestAdminSetsPassword(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	root := api.admin("root")
	alice := api.register("alice")
	aliceID := uuid.MustParse(alice.ID)
	const newPassword = "a brand new and long passphrase"

	weak, _ := api.Client.SetUserPasswordWithResponse(ctx, aliceID, oapi.PasswordSet{Password: "short"}, root.Auth())
	if weak.StatusCode() != 400 || !strings.Contains(string(weak.Body), "password must be at least 15 characters") {
		t.Fatalf("a short password: %d %s", weak.StatusCode(), weak.Body)
	}
	if r, _ := api.Client.SetUserPasswordWithResponse(ctx, uuid.Must(uuid.NewV7()), oapi.PasswordSet{Password: newPassword}, root.Auth()); r.StatusCode() != 404 {
		t.Fatalf("an unknown user: %d %s", r.StatusCode(), r.Body)
	}
	res, err := api.Client.SetUserPasswordWithResponse(ctx, aliceID, oapi.PasswordSet{Password: newPassword}, root.Auth())
	if err != nil || res.StatusCode() != 204 {
		t.Fatalf("set password: %v %d %s", err, res.StatusCode(), res.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, alice.Auth()); me.StatusCode() != 401 {
		t.Errorf("an old session still works: %d", me.StatusCode())
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh}); r.StatusCode() != 401 {
		t.Errorf("an old refresh token still works: %d", r.StatusCode())
	}
	if r, _ := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: strongPassword}); r.StatusCode() != 401 {
		t.Errorf("the old password still works: %d", r.StatusCode())
	}
	api.login("alice", newPassword)
	line := logLine(t, api, "password_set")
	if line["user_id"] != alice.ID || line["by"] == nil || line["by"] == alice.ID {
		t.Errorf("audit line %v", line)
	}
}

// TestLastAdminStays: demoting or deleting the only admin is 409 (issue 9,
// item 8), and of two admins demoting each other at once, one wins.
func TestLastAdminStays(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	root := api.admin("root")
	rootID := uuid.MustParse(root.ID)

	demote, _ := api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, rootID, oapi.UserPatch{Admin: false}, root.Auth())
	if demote.StatusCode() != 409 || demote.ApplicationproblemJSON409 == nil || demote.ApplicationproblemJSON409.Type != "/problems/last-admin" ||
		!strings.Contains(demote.ApplicationproblemJSON409.Detail, "at least one admin") {
		t.Fatalf("demoting the last admin: %d %s", demote.StatusCode(), demote.Body)
	}
	del, _ := api.Client.DeleteUserWithResponse(ctx, rootID, root.Auth())
	if del.StatusCode() != 409 || del.ApplicationproblemJSON409 == nil || del.ApplicationproblemJSON409.Type != "/problems/last-admin" {
		t.Fatalf("deleting the last admin: %d %s", del.StatusCode(), del.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, root.Auth()); me.JSON200 == nil || !me.JSON200.Admin {
		t.Fatalf("the last admin after the refusals: %s", me.Body)
	}

	for round := range 5 {
		other := api.admin("admin" + string(rune('a'+round)))
		admins := []account{root, other}
		start := make(chan struct{})
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, a := range admins {
			target := uuid.MustParse(admins[1-i].ID)
			wg.Go(func() {
				<-start
				r, _ := api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, target, oapi.UserPatch{Admin: false}, a.Auth())
				statuses[i] = r.StatusCode()
			})
		}
		close(start)
		wg.Wait()
		// The loser may find itself demoted already (403) or be told it is
		// the last admin (409); never may both succeed.
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 403, 409:
			default:
				t.Fatalf("round %d: status %d", round, s)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of two crossed demotions succeeded (%v), want 1", round, ok, statuses)
		}
		users, _ := api.Client.ListUsersWithResponse(ctx, &oapi.ListUsersParams{}, adminOf(t, api, admins).Auth())
		n := 0
		for _, u := range users.JSON200.Items {
			if u.Admin {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d admins left", round, n)
		}
		root = adminOf(t, api, admins)
	}
}

// holdingStore holds lookups of username, while holding is positive, after
// they have read the user: each says so on inside and waits for release.
type holdingStore struct {
	bookstore.Store
	username string
	holding  atomic.Int32
	inside   chan struct{}
	release  chan struct{}
}

func (s *holdingStore) FindUserByUsername(ctx context.Context, username string) (bookstore.User, error) {
	u, err := s.Store.FindUserByUsername(ctx, username)
	if username == s.username && s.holding.Add(-1) >= 0 {
		s.inside <- struct{}{}
		<-s.release
	}
	return u, err
}

// adminOf returns whichever of accounts is still an admin.
func adminOf(t *testing.T, api *testAPI, accounts []account) account {
	t.Helper()
	for _, a := range accounts {
		if me, _ := api.Client.GetCurrentUserWithResponse(context.Background(), a.Auth()); me.JSON200 != nil && me.JSON200.Admin {
			return a
		}
	}
	t.Fatal("no admin left")
	return account{}
}

// TestDeleteSelfNeedsARecentLogin is RFC 9470 step-up (issue 9, item 7).
func TestDeleteSelfNeedsARecentLogin(t *testing.T) {
	var offset atomic.Int64
	base := time.Now()
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	api := newTestAPI(t, func(o *apiOptions) { o.now = now })
	ctx := context.Background()
	root := api.admin("root")
	alice := api.register("alice")
	bob := api.register("bob")
	aliceID := uuid.MustParse(alice.ID)

	offset.Store(int64(6 * time.Minute))
	res, body := api.do("DELETE", "/users/"+alice.ID, jsonHeader(alice.Access), "")
	challenge := res.Header.Get("WWW-Authenticate")
	if res.StatusCode != 401 || !strings.Contains(challenge, `error="insufficient_user_authentication"`) ||
		!strings.Contains(challenge, "max_age=300") || !strings.Contains(challenge, "error_description=") ||
		problemOf(t, body).Type != "/problems/insufficient-user-authentication" {
		t.Fatalf("deleting oneself 6 minutes after login: %d %q %s", res.StatusCode, challenge, body)
	}
	if _, err := api.Store.FindUserByID(ctx, aliceID); err != nil {
		t.Fatalf("the account is gone after a refused deletion: %v", err)
	}
	// A refreshed token keeps the login's time: still too old.
	refreshed, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh})
	if refreshed.JSON200 == nil {
		t.Fatalf("refresh: %s", refreshed.Body)
	}
	if r, _ := api.Client.DeleteUserWithResponse(ctx, aliceID, bearer(refreshed.JSON200.AccessToken)); r.StatusCode() != 401 {
		t.Fatalf("a refreshed token of an old login deleted the account: %d", r.StatusCode())
	}
	// An admin deleting someone else needs no step-up.
	if r, _ := api.Client.DeleteUserWithResponse(ctx, uuid.MustParse(bob.ID), root.Auth()); r.StatusCode() != 204 {
		t.Fatalf("an admin deletes another user: %d %s", r.StatusCode(), r.Body)
	}
	// A new password login is recent enough.
	fresh := api.login("alice", strongPassword)
	if r, _ := api.Client.DeleteUserWithResponse(ctx, aliceID, fresh.Auth()); r.StatusCode() != 204 {
		t.Fatalf("deleting oneself right after logging in: %d %s", r.StatusCode(), r.Body)
	}
	if line := logLine(t, api, "step_up_required"); line["user_id"] != alice.ID {
		t.Errorf("audit line %v", line)
	}
}

// TestUnicodePasswords: NFKC before the policy and the hash (issue 9,
// item 9), and one length message whatever checks it (issue 11, item 5).
func TestUnicodePasswords(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	nfc, nfd := "caf\u00e9 au lait sous la pluie", "cafe\u0301 au lait sous la pluie"
	if r, _ := api.Client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: nfc}); r.StatusCode() != 201 {
		t.Fatalf("register: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: nfd}); r.StatusCode() != 200 {
		t.Fatalf("the NFC password typed as NFD: %d %s", r.StatusCode(), r.Body)
	}
	refused := map[string]string{
		strings.Repeat("\u200b", 15): "password must not be made only of spaces or invisible characters",
		strings.Repeat("\u00a0", 15): "password must not be made only of spaces or invisible characters",
		strings.Repeat("\u3000", 15): "password must not be made only of spaces or invisible characters",
		strings.Repeat("🦊", 15):      "password must use at least 5 different characters, not one repeated",
		"short":                      "password must be at least 15 characters",
		"":                           "password must be at least 15 characters",
		"vexing-quark":               "password must be at least 15 characters",
	}
	for pw, want := range refused {
		r, _ := api.Client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "bob", Password: pw})
		p := r.ApplicationproblemJSON400
		if r.StatusCode() != 400 || p == nil || p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Message != want {
			t.Errorf("register with %q: %d %s; want the field message %q", pw, r.StatusCode(), r.Body, want)
		}
	}
}

// TestLogoutAlwaysEndsTheAccessTokensSession (issue 15, item 3): a bad or
// spent refresh token in the body does not keep the session alive.
func TestLogoutAlwaysEndsTheAccessTokensSession(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	spent := api.login("alice", strongPassword)
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: spent.Refresh}); r.JSON200 == nil {
		t.Fatalf("refresh: %s", r.Body)
	}
	garbage := "not a refresh token"
	for name, c := range map[string]struct {
		a       account
		refresh string
	}{
		"unknown refresh token": {alice, garbage},
		"spent refresh token":   {api.login("alice", strongPassword), spent.Refresh},
		"both of one session":   {api.login("alice", strongPassword), ""},
	} {
		t.Run(name, func(t *testing.T) {
			refresh := c.refresh
			if refresh == "" {
				refresh = c.a.Refresh
			}
			r, _ := api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{RefreshToken: &refresh}, c.a.Auth())
			if r.StatusCode() != 204 {
				t.Fatalf("logout: %d %s", r.StatusCode(), r.Body)
			}
			if me, _ := api.Client.GetCurrentUserWithResponse(ctx, c.a.Auth()); me.StatusCode() != 401 {
				t.Fatalf("the access token's session survived the logout: %d", me.StatusCode())
			}
		})
	}
	// Without an access token, a spent refresh token ends nothing: 401.
	other := api.login("alice", strongPassword)
	api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: other.Refresh})
	if r, _ := api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{RefreshToken: &other.Refresh}); r.StatusCode() != 401 {
		t.Fatalf("logout with only a spent refresh token: %d %s", r.StatusCode(), r.Body)
	}
}

// TestSessionExpiryThroughTheAPI: past the refresh TTL, the session's
// refresh token is refused (issue 15, item 9).
func TestSessionExpiryThroughTheAPI(t *testing.T) {
	var offset atomic.Int64
	base := time.Now()
	api := newTestAPI(t, func(o *apiOptions) { o.now = func() time.Time { return base.Add(time.Duration(offset.Load())) } })
	ctx := context.Background()
	alice := api.register("alice")
	offset.Store(int64(720*time.Hour - time.Minute))
	r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh})
	if r.JSON200 == nil {
		t.Fatalf("refresh a minute before the session ends: %d %s", r.StatusCode(), r.Body)
	}
	offset.Store(int64(720*time.Hour + time.Minute))
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: r.JSON200.RefreshToken}); r.StatusCode() != 401 {
		t.Fatalf("refresh after the session ended: %d %s", r.StatusCode(), r.Body)
	}
}

// TestAuditLinesCarryRealIDs runs each audited event and checks its log
// line names the real user (and session, where there is one): issue 15,
// item 4.
func TestAuditLinesCarryRealIDs(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerUserIP = 2
	api := newTestAPI(t, withThrottle(limits))
	ctx := context.Background()
	root := api.admin("root")
	alice := api.register("alice")
	aliceID := uuid.MustParse(alice.ID)
	sessionOf := func(a account) string {
		var claims struct {
			SID string `json:"sid"`
		}
		payload, _ := jwtPayload(a.Access)
		json.Unmarshal(payload, &claims)
		return claims.SID
	}

	check := func(event string, want map[string]string) {
		t.Helper()
		line := logLine(t, api, event)
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%s: %s = %v, want %s (line %v)", event, k, line[k], v, line)
			}
		}
	}
	check("user_registered", map[string]string{"user_id": alice.ID})
	check("login_succeeded", map[string]string{"user_id": alice.ID, "session_id": sessionOf(alice)})

	api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: "wrong password, twice over"})
	logLine(t, api, "login_failed") // no user id: the answer must not tell whether the user exists
	api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: "wrong password, twice over"})
	api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: "wrong password, twice over"})
	logLine(t, api, "login_throttled")

	reused := api.login("root", strongPassword)
	api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: reused.Refresh})
	api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: reused.Refresh})
	check("refresh_reuse_detected", map[string]string{"user_id": root.ID, "session_id": sessionOf(reused)})

	second := api.login("root", strongPassword)
	api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{}, second.Auth())
	check("session_revoked", map[string]string{"user_id": root.ID, "session_id": sessionOf(second)})

	api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: strongPassword, NewPassword: "a brand new and long passphrase"}, alice.Auth())
	check("password_changed", map[string]string{"user_id": alice.ID, "session_id": sessionOf(alice)})

	api.Client.SetUserPasswordWithResponse(ctx, aliceID, oapi.PasswordSet{Password: strongPassword}, root.Auth())
	check("password_set", map[string]string{"user_id": alice.ID, "by": root.ID})

	api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, aliceID, oapi.UserPatch{Admin: true}, root.Auth())
	check("admin_granted", map[string]string{"user_id": alice.ID, "by": root.ID})
	api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, aliceID, oapi.UserPatch{Admin: false}, root.Auth())
	check("admin_removed", map[string]string{"user_id": alice.ID, "by": root.ID})

	api.Client.DeleteUserWithResponse(ctx, aliceID, root.Auth())
	check("user_deleted", map[string]string{"user_id": alice.ID, "by": root.ID})
}

// logLine returns the last log line of event, failing the test if there is
// none or if it names an all-zero id.
func logLine(t *testing.T, api *testAPI, event string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, line := range strings.Split(api.Logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["event"] == event {
			found = rec
		}
	}
	if found == nil {
		t.Fatalf("no %s log line", event)
	}
	for _, k := range []string{"user_id", "session_id", "by"} {
		if found[k] == uuid.Nil.String() {
			t.Fatalf("%s log line names the zero %s: %v", event, k, found)
		}
	}
	return found
}

// jwtPayload decodes the claims of a token without checking it.
func jwtPayload(token string) ([]byte, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, http.ErrNotSupported
	}
	return base64.RawURLEncoding.DecodeString(parts[1])
}
