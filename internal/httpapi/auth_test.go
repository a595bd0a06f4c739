package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func TestRegister(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	res, err := api.Client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "Alice", Password: strongPassword})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("register: %v %s", err, res.Body)
	}
	u := res.JSON201
	if u.Username != "Alice" || u.Admin {
		t.Errorf("user = %+v", u)
	}
	if got, want := res.HTTPResponse.Header.Get("Location"), "/users/"+u.Id.String(); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if strings.Contains(string(res.Body), "argon2") || strings.Contains(string(res.Body), "password") {
		t.Errorf("register answer leaks the password or its hash: %s", res.Body)
	}
	if v, err := uuid.Parse(u.Id.String()); err != nil || v.Version() != 7 {
		t.Errorf("id %s is not a UUIDv7", u.Id)
	}

	cases := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"taken, other case", `{"username":"alice","password":"` + strongPassword + `"}`, 409, ""},
		{"admin flag", `{"username":"mallory","password":"` + strongPassword + `","admin":true}`, 400, "admin"},
		{"short username", `{"username":"al","password":"` + strongPassword + `"}`, 400, "username"},
		{"bad username chars", `{"username":"al ice","password":"` + strongPassword + `"}`, 400, "username"},
		{"short password", `{"username":"bob","password":"short pass"}`, 400, "password"},
		{"common password", `{"username":"bob","password":"passwordpassword"}`, 400, "password"},
		{"guessable password", `{"username":"bob","password":"aaaaaaaaaaaaaaaaaaaa"}`, 400, "password"},
		{"password is the username", `{"username":"bobbybobbybobby","password":"bobbybobbybobby1"}`, 400, "password"},
		{"missing password", `{"username":"bob"}`, 400, "password"},
		{"too long password", `{"username":"bob","password":"` + strings.Repeat("xY9!", 33) + `"}`, 400, "password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := api.do("POST", "/auth/register", jsonHeader(""), c.body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, body)
			}
			p := problemOf(t, body)
			if c.field != "" {
				if p.Errors == nil || len(*p.Errors) == 0 || (*p.Errors)[0].Field != c.field {
					t.Errorf("errors = %+v, want field %q", p.Errors, c.field)
				}
			}
			if c.status == 409 && p.Type != "/problems/username-taken" {
				t.Errorf("type = %q", p.Type)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")

	t.Run("JSON", func(t *testing.T) {
		res, err := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "ALICE", Password: strongPassword})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("%v %s", err, res.Body)
		}
		pair := res.JSON200
		if pair.TokenType != "Bearer" || pair.ExpiresIn < 890 || pair.ExpiresIn > 900 || pair.RefreshToken == "" {
			t.Errorf("pair = %+v", pair)
		}
		if cc := res.HTTPResponse.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q", cc)
		}
		me, err := api.Client.GetCurrentUserWithResponse(ctx, bearer(pair.AccessToken))
		if err != nil || me.JSON200 == nil || me.JSON200.Username != "alice" {
			t.Fatalf("me: %v %s", err, me.Body)
		}
	})
	t.Run("HTTP Basic, as the seed", func(t *testing.T) {
		res, err := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{}, func(_ context.Context, r *http.Request) error {
			r.Body, r.ContentLength = http.NoBody, 0
			r.Header.Del("Content-Type")
			r.SetBasicAuth("alice", strongPassword)
			return nil
		})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("%v %d %s", err, res.StatusCode(), res.Body)
		}
	})
	t.Run("seed header x-access-tokens", func(t *testing.T) {
		res, body := api.do("GET", "/users/me", http.Header{"X-Access-Tokens": {alice.Access}}, "")
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		res, body = api.do("GET", "/users/me", http.Header{"X-Access-Tokens": {alice.Access}, "Authorization": {"Bearer " + alice.Access}}, "")
		if res.StatusCode != 200 {
			t.Fatalf("same token twice: status %d: %s", res.StatusCode, body)
		}
		other := api.login("alice", strongPassword)
		res, _ = api.do("GET", "/users/me", http.Header{"X-Access-Tokens": {other.Access}, "Authorization": {"Bearer " + alice.Access}}, "")
		if res.StatusCode != 400 {
			t.Fatalf("different tokens: status %d, want 400", res.StatusCode)
		}
	})
	t.Run("wrong password and unknown user answer alike", func(t *testing.T) {
		wrong, bodyWrong := api.do("POST", "/auth/login", jsonHeader(""), `{"username":"alice","password":"not the password at all"}`)
		unknown, bodyUnknown := api.do("POST", "/auth/login", jsonHeader(""), `{"username":"nobody","password":"not the password at all"}`)
		if wrong.StatusCode != 401 || unknown.StatusCode != 401 {
			t.Fatalf("statuses %d, %d; want 401", wrong.StatusCode, unknown.StatusCode)
		}
		strip := func(b []byte) string {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			delete(m, "instance")
			out, _ := json.Marshal(m)
			return string(out)
		}
		if strip(bodyWrong) != strip(bodyUnknown) {
			t.Errorf("bodies differ:\n%s\n%s", bodyWrong, bodyUnknown)
		}
		if wrong.Header.Get("WWW-Authenticate") == "" || wrong.Header.Get("WWW-Authenticate") != unknown.Header.Get("WWW-Authenticate") {
			t.Errorf("WWW-Authenticate: %q vs %q", wrong.Header.Get("WWW-Authenticate"), unknown.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		res, body := api.do("POST", "/auth/login", nil, "")
		if res.StatusCode != 400 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
	})
}

func TestPasswordRehashedOnLogin(t *testing.T) {
	weak := auth.Argon2Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	api := newTestAPI(t)
	ctx := context.Background()
	api.register("alice")
	old, err := auth.NewHasher(weak, 1)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := old.Hash(ctx, strongPassword)
	u, _ := api.Store.FindUserByUsername(ctx, "alice")
	if err := api.Store.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash); err != nil {
		t.Fatal(err)
	}
	api.login("alice", strongPassword)
	u, _ = api.Store.FindUserByUsername(ctx, "alice")
	if u.PasswordHash == hash || !strings.Contains(u.PasswordHash, "m=64,t=1,p=1") {
		t.Fatalf("hash not upgraded: %s", u.PasswordHash)
	}
	api.login("alice", strongPassword) // still the same password
}

func TestRefreshRotationAndReuse(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")

	res, err := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh})
	if err != nil || res.JSON200 == nil {
		t.Fatalf("refresh: %v %s", err, res.Body)
	}
	next := res.JSON200
	if next.RefreshToken == alice.Refresh {
		t.Fatal("refresh token not rotated")
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, bearer(next.AccessToken)); me.StatusCode() != 200 {
		t.Fatalf("new access token refused: %d", me.StatusCode())
	}
	// Replaying the spent token revokes the whole session.
	replay, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh})
	if replay.StatusCode() != 401 || replay.ApplicationproblemJSON401 == nil || replay.ApplicationproblemJSON401.Type != "/problems/refresh-token-reused" {
		t.Fatalf("replay: %d %s", replay.StatusCode(), replay.Body)
	}
	if res, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: next.RefreshToken}); res.StatusCode() != 401 {
		t.Errorf("the rotated refresh token still works after reuse: %d", res.StatusCode())
	}
	for _, tok := range []string{alice.Access, next.AccessToken} {
		if me, _ := api.Client.GetCurrentUserWithResponse(ctx, bearer(tok)); me.StatusCode() != 401 {
			t.Errorf("access token of the revoked session still works: %d", me.StatusCode())
		}
	}
	// Garbage is a plain 401.
	for _, bad := range []string{"bsr_nonsense", strings.Repeat("a", 256)} {
		if res, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: bad}); res.StatusCode() != 401 {
			t.Errorf("refresh %q: %d", bad, res.StatusCode())
		}
	}
}

func TestLogout(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	other := api.login("alice", strongPassword)

	res, err := api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{}, alice.Auth())
	if err != nil || res.StatusCode() != 204 {
		t.Fatalf("logout: %v %d %s", err, res.StatusCode(), res.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, alice.Auth()); me.StatusCode() != 401 {
		t.Errorf("access token works after logout: %d", me.StatusCode())
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh}); r.StatusCode() != 401 {
		t.Errorf("refresh token works after logout: %d", r.StatusCode())
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, other.Auth()); me.StatusCode() != 200 {
		t.Errorf("the other session ended too: %d", me.StatusCode())
	}
	// Logout with only the refresh token in the body.
	res, _ = api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{RefreshToken: &other.Refresh})
	if res.StatusCode() != 204 {
		t.Fatalf("logout by refresh token: %d %s", res.StatusCode(), res.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, other.Auth()); me.StatusCode() != 401 {
		t.Errorf("access token works after logout by refresh token: %d", me.StatusCode())
	}
	// Nothing to log out with.
	if res, _ := api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{}); res.StatusCode() != 401 {
		t.Errorf("logout without credentials: %d", res.StatusCode())
	}
}

func TestJWKSUnderHS256IsEmpty(t *testing.T) {
	api := newTestAPI(t)
	res, err := api.Client.GetJwksWithResponse(context.Background())
	if err != nil || res.JSON200 == nil || len(res.JSON200.Keys) != 0 {
		t.Fatalf("%v %s", err, res.Body)
	}
}

func TestEdDSATokensAndJWKS(t *testing.T) {
	key, err := auth.NewEd25519Key(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	api := newTestAPI(t, func(o *apiOptions) { o.keys = []bookstore.SigningKey{key} })
	alice := api.register("alice")
	ctx := context.Background()
	res, err := api.Client.GetJwksWithResponse(ctx)
	if err != nil || res.JSON200 == nil || len(res.JSON200.Keys) != 1 {
		t.Fatalf("%v %s", err, res.Body)
	}
	jwk := res.JSON200.Keys[0]
	if jwk.Kty != "OKP" || jwk.Alg != "EdDSA" || jwk.Kid != key.KID || jwk.X == nil {
		t.Fatalf("jwk = %+v", jwk)
	}
	// A client can verify our tokens with the published key alone.
	pub, _ := base64.RawURLEncoding.DecodeString(*jwk.X)
	if _, err := jwt.Parse(alice.Access, func(*jwt.Token) (any, error) { return ed25519.PublicKey(pub), nil },
		jwt.WithValidMethods([]string{"EdDSA"})); err != nil {
		t.Fatalf("token does not verify with the JWKS key: %v", err)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, alice.Auth()); me.StatusCode() != 200 {
		t.Fatalf("me: %d", me.StatusCode())
	}
}

// TestTokenAttacks sends forged and broken access tokens; each must be a
// 401 with an RFC 6750 invalid_token challenge.
func TestTokenAttacks(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	key, err := auth.HS256KeyFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	api := newTestAPI(t, func(o *apiOptions) { o.keys = []bookstore.SigningKey{key} })
	ctx := context.Background()
	alice := api.register("alice")

	// Take a real token's claims apart to forge variants of it.
	parts := strings.Split(alice.Access, ".")
	var claims map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	sign := func(method jwt.SigningMethod, k any, header map[string]any, mutate func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = key.KID
		tok.Header["typ"] = "at+jwt"
		for k, v := range header {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := func(header map[string]any, mutate func(jwt.MapClaims)) string {
		return sign(jwt.SigningMethodHS256, secret, header, mutate)
	}
	now := time.Now()
	// The control: a token we forge with the right key is accepted, so each
	// case below fails for its own reason alone.
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, bearer(hs(nil, nil))); me.StatusCode() != 200 {
		t.Fatalf("control token refused: %d %s", me.StatusCode(), me.Body)
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, edPriv, _ := ed25519.GenerateKey(nil)

	// A refresh token presented as an access token, and the token of a
	// session that was revoked or a user who was deleted.
	bob := api.register("bob")
	bobID, _ := uuid.Parse(bob.ID)
	if err := api.Store.DeleteUser(ctx, bobID); err != nil {
		t.Fatal(err)
	}
	carol := api.register("carol")
	api.Client.LogoutWithResponse(ctx, oapi.LogoutRequest{}, carol.Auth())

	cases := map[string]string{
		"alg none":              unsigned,
		"wrong key":             sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), nil, nil),
		"EdDSA with our kid":    sign(jwt.SigningMethodEdDSA, edPriv, nil, nil),
		"tampered payload":      parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"sub":"`, `"sub":"0`, 1))) + "." + parts[2],
		"expired":               hs(nil, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }),
		"nbf in the future":     hs(nil, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }),
		"missing exp":           hs(nil, func(c jwt.MapClaims) { delete(c, "exp") }),
		"missing sid":           hs(nil, func(c jwt.MapClaims) { delete(c, "sid") }),
		"wrong aud":             hs(nil, func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"wrong iss":             hs(nil, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }),
		"other user's sid":      hs(nil, func(c jwt.MapClaims) { c["sub"] = uuid.NewString() }),
		"unknown crit":          hs(map[string]any{"crit": []string{"exp-policy"}, "exp-policy": "x"}, nil),
		"unknown kid":           hs(map[string]any{"kid": "nope"}, nil),
		"kid is a path":         hs(map[string]any{"kid": "../../../../dev/null"}, nil),
		"kid is a URL":          hs(map[string]any{"kid": "https://evil.example/key"}, nil),
		"typ is not at+jwt":     hs(map[string]any{"typ": "JWT"}, nil),
		"refresh token":         alice.Refresh,
		"deleted user":          bob.Access,
		"revoked session":       carol.Access,
		"100 KB token":          strings.Repeat("a", 100<<10),
		"three dots":            "a.b.c.d",
		"garbage":               "not-a-jwt",
		"sub is not a uuid":     hs(nil, func(c jwt.MapClaims) { c["sub"] = "alice" }),
		"iat in the far future": hs(nil, func(c jwt.MapClaims) { c["iat"] = now.Add(24 * time.Hour).Unix() }),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			res, body := api.do("GET", "/books", http.Header{"Authorization": {"Bearer " + tok}}, "")
			if res.StatusCode != 401 {
				t.Fatalf("status %d, want 401: %s", res.StatusCode, body)
			}
			if ch := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		res, _ := api.do("GET", "/books", nil, "")
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer realm="bookstore"` {
			t.Fatalf("%d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestNoSecretsInLogs runs a whole session and checks the log never holds
// a password, token or hash, and that each request left one line.
func TestNoSecretsInLogs(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	res, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh})
	api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh}) // reuse
	api.do("POST", "/auth/login", jsonHeader(""), `{"username":"alice","password":"wrong password wrong"}`)
	api.do("GET", "/books", http.Header{"Authorization": {"Bearer " + alice.Access + "x"}}, "")
	u, _ := api.Store.FindUserByUsername(ctx, "alice")
	logs := api.Logs.String()
	for name, secret := range map[string]string{
		"password": strongPassword, "wrong password": "wrong password wrong", "access token": alice.Access,
		"refresh token": alice.Refresh, "rotated refresh token": res.JSON200.RefreshToken, "hash": u.PasswordHash,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n != 6 {
		t.Errorf("%d request lines for 6 requests:\n%s", n, logs)
	}
	for _, want := range []string{`"route":"/auth/login"`, `"status":401`, `"request_id":`, `"duration_ms":`, `"method":"POST"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the log", want)
		}
	}
}
