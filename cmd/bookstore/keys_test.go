package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
)

// kidOf reads the kid from a JWT's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// TestKeysRotate rotates the signing key under a running server and a
// replica on the same database: tokens signed before keep working, tokens
// of the new key are accepted by the server that has not reloaded yet, and
// the JWKS publishes both keys.
func TestKeysRotate(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": database, "BOOKSTORE_JWT_ALG": "EdDSA"}
	a, _ := NewTestMain(t, env)
	MustRunMain(t, a)
	ca := newClient(t, a.Addr())
	if r, err := ca.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || r.StatusCode() != 201 {
		t.Fatalf("register: %v", err)
	}
	before := login(t, ca, "alice", goodPassword)

	status, stdout, stderr := runCmd(t, "", env, "keys", "rotate")
	if status != 0 || !strings.HasPrefix(stdout, "new EdDSA signing key ") {
		t.Fatalf("keys rotate: %d %q %q", status, stdout, stderr)
	}
	newKID := strings.TrimSpace(strings.TrimPrefix(stdout, "new EdDSA signing key "))

	b, _ := NewTestMain(t, env) // a replica started after the rotation
	MustRunMain(t, b)
	cb := newClient(t, b.Addr())
	after := login(t, cb, "alice", goodPassword)
	if kidOf(t, after.AccessToken) != newKID || kidOf(t, before.AccessToken) == newKID {
		t.Fatalf("kids: before %s, after %s, new %s", kidOf(t, before.AccessToken), kidOf(t, after.AccessToken), newKID)
	}
	for name, c := range map[string]*oapi.ClientWithResponses{"old server": ca, "new server": cb} {
		for which, tok := range map[string]string{"old key": before.AccessToken, "new key": after.AccessToken} {
			if r, _ := c.GetCurrentUserWithResponse(t.Context(), bearer(tok)); r.StatusCode() != 200 {
				t.Errorf("%s, token of the %s: %d", name, which, r.StatusCode())
			}
		}
	}
	if r, _ := ca.GetJwksWithResponse(t.Context()); r.JSON200 == nil || len(r.JSON200.Keys) != 2 {
		t.Errorf("JWKS after rotation: %s", r.Body)
	}
	if status, _, stderr := runCmd(t, "", map[string]string{"BOOKSTORE_DATABASE_URL": database, "BOOKSTORE_JWT_SECRET": secret32}, "keys", "rotate"); status != 2 || !strings.Contains(stderr, "changing the secret") {
		t.Errorf("rotate with a configured secret: %d %q", status, stderr)
	}
}
