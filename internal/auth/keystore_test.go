package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// keyClock is a settable clock shared by a KeyConfig's loads and the
// AccessTokens that issue and verify, so a test moves time for both.
type keyClock struct{ now time.Time }

func (c *keyClock) Now() time.Time { return c.now }

// keyFixture is a store, a config and a clock for key transition tests.
type keyFixture struct {
	t     *testing.T
	db    bookstore.KeyStore
	clock *keyClock
	ttl   time.Duration
}

func newKeyFixture(t *testing.T) *keyFixture {
	return &keyFixture{t: t, db: MustOpenStore(t), clock: &keyClock{now: testNow}, ttl: 15 * time.Minute}
}

func (f *keyFixture) cfg(alg string, secret []byte) auth.KeyConfig {
	return auth.KeyConfig{Store: f.db, Alg: alg, Secret: secret, AccessTTL: f.ttl}
}

// load builds a keyring at the clock's time and returns AccessTokens over it
// that read the same clock.
func (f *keyFixture) load(alg string, secret []byte) *auth.AccessTokens {
	f.t.Helper()
	kr, err := auth.LoadKeyring(context.Background(), f.cfg(alg, secret), f.clock.now)
	if err != nil {
		f.t.Fatalf("LoadKeyring: %v", err)
	}
	tokens, err := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: kr, AccessTTL: f.ttl, Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return tokens
}

func (f *keyFixture) issue(tokens *auth.AccessTokens) string {
	f.t.Helper()
	tok, _, err := tokens.Issue(mustV7(f.t), mustV7(f.t), time.Time{})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *keyFixture) wantVerifies(tokens *auth.AccessTokens, tok, what string) {
	f.t.Helper()
	if _, err := tokens.Verify(tok); err != nil {
		f.t.Errorf("%s: refused at %v: %v", what, f.clock.now.Sub(testNow), err)
	}
}

func (f *keyFixture) wantRefused(tokens *auth.AccessTokens, tok, what string) {
	f.t.Helper()
	if _, err := tokens.Verify(tok); err == nil {
		f.t.Errorf("%s: verified at %v", what, f.clock.now.Sub(testNow))
	}
}

// storedRetirement returns the stored retired_at of kid (nil if live) and
// whether the key is stored at all.
func (f *keyFixture) storedRetirement(kid string) (*time.Time, bool) {
	f.t.Helper()
	keys, err := f.db.SigningKeys(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, k := range keys {
		if k.KID == kid {
			return k.RetiredAt, true
		}
	}
	return nil, false
}

func (f *keyFixture) wantRetiredAt(kid string, want time.Time) {
	f.t.Helper()
	got, ok := f.storedRetirement(kid)
	if !ok || got == nil || !got.Equal(want) {
		f.t.Errorf("key %s: stored retirement %v (stored %v), want %v", kid, got, ok, want)
	}
}

// The window of a retired key: AccessTTL plus the 5 s clock leeway.
const leeway = 5 * time.Second

func TestKeyTransitions(t *testing.T) {
	secret1 := []byte(strings.Repeat("1", 32))
	secret2 := []byte(strings.Repeat("2", 32))

	t.Run("secret set: the database key retires once and leaves after one TTL", func(t *testing.T) {
		f := newKeyFixture(t)
		before := f.load(auth.AlgEdDSA, nil)
		dbKID := before.Keyring().SigningKID()
		old := f.issue(before)

		retiredAt := testNow.Add(time.Minute)
		f.clock.now = retiredAt
		withSecret := f.load(auth.AlgHS256, secret1)
		f.wantRetiredAt(dbKID, retiredAt)
		f.wantVerifies(withSecret, old, "database key's token right after the secret was set")
		// Reloads do not move the retirement (the old code re-stamped it
		// at every reload, so the key never left).
		for i := range 5 {
			f.clock.now = retiredAt.Add(time.Duration(i+1) * time.Minute)
			f.load(auth.AlgHS256, secret1)
		}
		f.wantRetiredAt(dbKID, retiredAt)
		// A replica that had not reloaded yet signs with the database key
		// after its retirement: that token outlives the key's window.
		f.clock.now = retiredAt.Add(30 * time.Second)
		late := f.issue(before)
		// Past the window, the keyring loaded during the window refuses it
		// (checked at verification, not only at reload) ...
		f.clock.now = retiredAt.Add(f.ttl + leeway + time.Second)
		f.wantRefused(withSecret, late, "database key's token after its window, keyring not reloaded")
		if n := len(withSecret.Keyring().JWKS(f.clock.now)); n != 0 {
			t.Errorf("JWKS after the window has %d keys, want 0", n)
		}
		// ... and a reload drops the key from the ring and the database.
		reloaded := f.load(auth.AlgHS256, secret1)
		f.wantRefused(reloaded, late, "database key's token after its window, reloaded")
		if _, ok := f.storedRetirement(dbKID); ok {
			t.Error("the key is still stored after its window")
		}
	})

	t.Run("secret changed: the old secret's tokens are refused, the database key keeps its retirement", func(t *testing.T) {
		f := newKeyFixture(t)
		dbKID := f.load(auth.AlgHS256, nil).Keyring().SigningKID()
		retiredAt := testNow.Add(time.Minute)
		f.clock.now = retiredAt
		one := f.load(auth.AlgHS256, secret1)
		byOne := f.issue(one)

		f.clock.now = retiredAt.Add(2 * time.Minute)
		two := f.load(auth.AlgHS256, secret2)
		f.wantRetiredAt(dbKID, retiredAt)
		want, _ := auth.HS256KeyFromSecret(secret2)
		if two.Keyring().SigningKID() != want.KID {
			t.Errorf("signing kid %s, want the new secret's %s", two.Keyring().SigningKID(), want.KID)
		}
		// The old secret is not stored anywhere: its tokens fail at once
		// (clients refresh; sessions and refresh tokens are untouched).
		f.wantRefused(two, byOne, "old secret's token after the change")
		f.wantVerifies(two, f.issue(two), "new secret's token")
	})

	t.Run("secret unset: a stored key signs again, the retired one still leaves on time", func(t *testing.T) {
		f := newKeyFixture(t)
		first := f.load(auth.AlgHS256, nil)
		dbKID := first.Keyring().SigningKID()
		byDB := f.issue(first)
		retiredAt := testNow.Add(time.Minute)
		f.clock.now = retiredAt
		withSecret := f.load(auth.AlgHS256, secret1)
		bySecret := f.issue(withSecret)

		f.clock.now = retiredAt.Add(time.Minute)
		unset := f.load(auth.AlgHS256, nil)
		newKID := unset.Keyring().SigningKID()
		if newKID == dbKID {
			t.Fatal("the retired database key signs again")
		}
		if r, ok := f.storedRetirement(newKID); !ok || r != nil {
			t.Errorf("the new key is stored %v, retired %v; want stored and live", ok, r)
		}
		f.wantRetiredAt(dbKID, retiredAt)
		f.wantVerifies(unset, byDB, "retired database key's token inside its window")
		f.wantRefused(unset, bySecret, "token of the secret no longer configured")
		f.clock.now = retiredAt.Add(f.ttl + leeway + time.Second)
		f.wantRefused(unset, byDB, "retired database key's token after its window")
	})

	t.Run("rotate: the old key verifies one TTL after the rotation, then leaves ring and JWKS", func(t *testing.T) {
		f := newKeyFixture(t)
		before := f.load(auth.AlgEdDSA, nil)
		oldKID := before.Keyring().SigningKID()
		rotatedAt := testNow.Add(time.Minute)
		f.clock.now = rotatedAt
		if err := auth.RotateKey(context.Background(), f.cfg(auth.AlgEdDSA, nil), rotatedAt); err != nil {
			t.Fatal(err)
		}
		after := f.load(auth.AlgEdDSA, nil)
		if after.Keyring().SigningKID() == oldKID {
			t.Fatal("rotation did not change the signing key")
		}
		f.clock.now = rotatedAt.Add(10 * time.Second)
		late := f.issue(before) // a replica that has not reloaded yet
		f.load(auth.AlgEdDSA, nil)
		f.wantRetiredAt(oldKID, rotatedAt)
		if n := len(after.Keyring().JWKS(f.clock.now)); n != 2 {
			t.Errorf("JWKS inside the window has %d keys, want 2", n)
		}
		f.clock.now = rotatedAt.Add(f.ttl)
		f.wantVerifies(after, late, "old key's token inside its window")
		f.clock.now = rotatedAt.Add(f.ttl + leeway + time.Second)
		f.wantRefused(after, late, "old key's token after its window")
		if jwks := after.Keyring().JWKS(f.clock.now); len(jwks) != 1 || jwks[0].KID != after.Keyring().SigningKID() {
			t.Errorf("JWKS after the window = %+v, want the new key alone", jwks)
		}
	})

	t.Run("revoke a retired key: gone from the database, refused after the next reload", func(t *testing.T) {
		f := newKeyFixture(t)
		ctx := context.Background()
		before := f.load(auth.AlgEdDSA, nil)
		oldKID := before.Keyring().SigningKID()
		tok := f.issue(before)
		if err := auth.RotateKey(ctx, f.cfg(auth.AlgEdDSA, nil), f.clock.now); err != nil {
			t.Fatal(err)
		}
		during := f.load(auth.AlgEdDSA, nil)
		f.wantVerifies(during, tok, "retired key's token before the revocation")
		replaced, err := auth.RevokeKey(ctx, f.cfg(auth.AlgEdDSA, nil), oldKID, f.clock.now)
		if err != nil || replaced {
			t.Fatalf("RevokeKey = %v, %v; want no replacement", replaced, err)
		}
		if _, ok := f.storedRetirement(oldKID); ok {
			t.Error("the revoked key is still stored")
		}
		reloaded := f.load(auth.AlgEdDSA, nil)
		if reloaded.Keyring().SigningKID() != during.Keyring().SigningKID() {
			t.Error("revoking a retired key changed the signing key")
		}
		f.wantRefused(reloaded, tok, "revoked key's token")
		if n := len(reloaded.Keyring().JWKS(f.clock.now)); n != 1 {
			t.Errorf("JWKS after revocation has %d keys, want 1", n)
		}
	})

	t.Run("revoke the signing key: a successor signs, its tokens are refused", func(t *testing.T) {
		f := newKeyFixture(t)
		ctx := context.Background()
		before := f.load(auth.AlgHS256, nil)
		kid := before.Keyring().SigningKID()
		tok := f.issue(before)
		replaced, err := auth.RevokeKey(ctx, f.cfg(auth.AlgHS256, nil), kid, f.clock.now)
		if err != nil || !replaced {
			t.Fatalf("RevokeKey = %v, %v; want a replacement", replaced, err)
		}
		after := f.load(auth.AlgHS256, nil)
		if after.Keyring().SigningKID() == kid {
			t.Fatal("the revoked key still signs")
		}
		f.wantRefused(after, tok, "revoked signing key's token")
		f.wantVerifies(after, f.issue(after), "successor's token")
	})

	t.Run("revoke refuses unknown kids and the configured secret", func(t *testing.T) {
		f := newKeyFixture(t)
		ctx := context.Background()
		f.load(auth.AlgHS256, nil)
		if _, err := auth.RevokeKey(ctx, f.cfg(auth.AlgHS256, nil), "no-such-kid", f.clock.now); !errors.Is(err, bookstore.ErrNotFound) {
			t.Errorf("unknown kid: %v, want ErrNotFound", err)
		}
		k, _ := auth.HS256KeyFromSecret(secret1)
		if _, err := auth.RevokeKey(ctx, f.cfg(auth.AlgHS256, secret1), k.KID, f.clock.now); err == nil {
			t.Error("revoking the configured secret's kid was accepted")
		}
	})
}
