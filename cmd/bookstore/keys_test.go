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

// startWithAlice runs a server with env, registers alice and logs her in.
func startWithAlice(t *testing.T, env map[string]string) (*oapi.ClientWithResponses, oapi.TokenPair) {
	t.Helper()
	m, _ := NewTestMain(t, env)
	MustRunMain(t, m)
	c := newClient(t, m.Addr())
	if r, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || r.StatusCode() != 201 {
		t.Fatalf("register: %v", err)
	}
	return c, login(t, c, "alice", goodPassword)
}

// TestKeysRotate rotates the signing key under a running server and a
// replica on the same database: tokens signed before keep working, tokens
// of the new key are accepted by the server that has not reloaded yet, and
// the JWKS publishes both keys.
func TestKeysRotate(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": database, "BOOKSTORE_JWT_ALG": "EdDSA"}
	ca, before := startWithAlice(t, env)

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

// TestKeysRevoke withdraws the signing key under a running server: a
// replica started afterwards signs with the successor, and the first token
// of the successor that the running server sees makes it reload, after
// which the revoked key's tokens are refused there too (without such a
// token, the minute's scheduled reload does the same).
func TestKeysRevoke(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": database, "BOOKSTORE_JWT_ALG": "EdDSA"}
	ca, before := startWithAlice(t, env)
	revoked := kidOf(t, before.AccessToken)

	status, stdout, stderr := runCmd(t, "", env, "keys", "list")
	if status != 0 || !strings.Contains(stdout, revoked+" EdDSA created ") || !strings.Contains(stdout, " live\n") {
		t.Fatalf("keys list: %d %q %q", status, stdout, stderr)
	}
	status, stdout, stderr = runCmd(t, "", env, "keys", "revoke", "--kid", revoked)
	if status != 0 || !strings.HasPrefix(stdout, "revoked "+revoked+"\nnew EdDSA signing key ") {
		t.Fatalf("keys revoke: %d %q %q", status, stdout, stderr)
	}
	if _, stdout, _ := runCmd(t, "", env, "keys", "list"); strings.Contains(stdout, revoked) {
		t.Errorf("the revoked key is still listed: %q", stdout)
	}

	b, _ := NewTestMain(t, env)
	MustRunMain(t, b)
	cb := newClient(t, b.Addr())
	if r, _ := cb.GetCurrentUserWithResponse(t.Context(), bearer(before.AccessToken)); r.StatusCode() != 401 {
		t.Errorf("revoked key's token on a replica started after the revocation: %d, want 401", r.StatusCode())
	}
	after := login(t, cb, "alice", goodPassword)
	if kidOf(t, after.AccessToken) == revoked {
		t.Fatal("the replica signs with the revoked key")
	}
	// The new key's token makes the running server reload ...
	if r, _ := ca.GetCurrentUserWithResponse(t.Context(), bearer(after.AccessToken)); r.StatusCode() != 200 {
		t.Errorf("successor's token on the running server: %d", r.StatusCode())
	}
	// ... and the revoked key is gone from it.
	if r, _ := ca.GetCurrentUserWithResponse(t.Context(), bearer(before.AccessToken)); r.StatusCode() != 401 {
		t.Errorf("revoked key's token on the running server after its reload: %d, want 401", r.StatusCode())
	}
	if r, _ := ca.GetJwksWithResponse(t.Context()); r.JSON200 == nil || len(r.JSON200.Keys) != 1 || r.JSON200.Keys[0].Kid == revoked {
		t.Errorf("JWKS after revocation: %s", r.Body)
	}
	if status, _, stderr := runCmd(t, "", env, "keys", "revoke", "--kid", revoked); status == 0 || !strings.Contains(stderr, "no signing key has this kid") {
		t.Errorf("revoking it again: %d %q", status, stderr)
	}
	if status, _, stderr := runCmd(t, "", env, "keys", "revoke"); status != 2 || !strings.Contains(stderr, "--kid") {
		t.Errorf("revoke without --kid: %d %q", status, stderr)
	}
}
