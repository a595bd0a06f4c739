package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// MustOpenStore is a real SQLite store in a temporary directory.
func MustOpenStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "auth.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestCheckPassword(t *testing.T) {
	ctx := context.Background()
	db := MustOpenStore(t)
	h := MustNewHasher(t, fastParams(), 1)
	policy, _ := auth.NewPasswordPolicy(15)
	u, err := auth.NewUser(ctx, h, policy, "alice", "plum tractor glacier umbrella", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var hashes atomic.Int32
	auth.WrapKDF(h, func(next auth.KDF) auth.KDF {
		return func(p, s []byte, t, m uint32, th uint8, k uint32) []byte {
			hashes.Add(1)
			return next(p, s, t, m, th, k)
		}
	})
	cases := []struct {
		name, username, password string
		ok                       bool
	}{
		{"right", "alice", "plum tractor glacier umbrella", true},
		{"username in another case", "ALICE", "plum tractor glacier umbrella", true},
		{"wrong password", "alice", "plum tractor glacier umbrellas", false},
		{"unknown user", "nobody", "plum tractor glacier umbrella", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hashes.Store(0)
			got, err := h.CheckPassword(ctx, db, c.username, c.password)
			if c.ok && (err != nil || got.ID != u.ID) {
				t.Fatalf("got %v, %v", got.ID, err)
			}
			if !c.ok && !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrInvalidCredentials", err)
			}
			if n := hashes.Load(); n != 1 {
				t.Errorf("%d hashes, want exactly 1 whatever the outcome", n)
			}
		})
	}
}

func TestCheckPasswordUpgradesParameters(t *testing.T) {
	ctx := context.Background()
	db, u := mustCreateOutdatedUser(t)
	current := MustNewHasher(t, fastParams(), 1)
	if _, err := current.CheckPassword(ctx, db, "alice", "plum tractor glacier umbrella"); err != nil {
		t.Fatal(err)
	}
	stored, _ := db.FindUserByID(ctx, u.ID)
	if !strings.Contains(stored.PasswordHash, "m=64,t=1,p=1") {
		t.Fatalf("hash not upgraded: %s", stored.PasswordHash)
	}
	if _, err := current.CheckPassword(ctx, db, "alice", "plum tractor glacier umbrella"); err != nil {
		t.Fatalf("upgraded hash does not verify: %v", err)
	}
}

func TestNewUser(t *testing.T) {
	ctx := context.Background()
	h := MustNewHasher(t, fastParams(), 1)
	policy, _ := auth.NewPasswordPolicy(15)
	u, err := auth.NewUser(ctx, h, policy, "alice.b-c_d", "plum tractor glacier umbrella", true, time.Now())
	if err != nil || !u.Admin || u.ID.Version() != 7 || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("%+v, %v", u, err)
	}
	for _, c := range []struct{ username, password, field string }{
		{"al", "plum tractor glacier umbrella", "username"},
		{"alice!", "plum tractor glacier umbrella", "username"},
		{strings.Repeat("a", 51), "plum tractor glacier umbrella", "username"},
		{"alice", "short", "password"},
	} {
		_, err := auth.NewUser(ctx, h, policy, c.username, c.password, false, time.Now())
		var de *bookstore.Error
		if !errors.As(err, &de) || len(de.Fields) == 0 || de.Fields[0].Field != c.field {
			t.Errorf("NewUser(%q, %q) = %v; want an error on %s", c.username, c.password, err, c.field)
		}
	}
}

func TestLoadKeyring(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	load := func(db bookstore.KeyStore, alg string, secret []byte, now time.Time) (*auth.Keyring, error) {
		return auth.LoadKeyring(ctx, auth.KeyConfig{Store: db, Alg: alg, Secret: secret, AccessTTL: 15 * time.Minute}, now)
	}
	t.Run("generated on first start, kept after", func(t *testing.T) {
		db := MustOpenStore(t)
		first, err := load(db, auth.AlgHS256, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		again, err := load(db, auth.AlgHS256, nil, now.Add(time.Hour))
		if err != nil || again.SigningKID() != first.SigningKID() {
			t.Fatalf("restart changed the key: %v %s %s", err, first.SigningKID(), again.SigningKID())
		}
		// A token of the first start verifies after the restart.
		issue, _ := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: first})
		verify, _ := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: again})
		tok, _, err := issue.Issue(mustV7(t), mustV7(t), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.Verify(tok); err != nil {
			t.Fatalf("token from before the restart: %v", err)
		}
	})
	t.Run("switching to EdDSA keeps HS256 tokens verifying", func(t *testing.T) {
		db := MustOpenStore(t)
		hs, _ := load(db, auth.AlgHS256, nil, now)
		ed, err := load(db, auth.AlgEdDSA, nil, now.Add(time.Minute))
		if err != nil || len(ed.JWKS(now)) != 1 || ed.SigningKID() == hs.SigningKID() {
			t.Fatalf("%v %d", err, len(ed.JWKS(now)))
		}
		issue, _ := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: hs})
		verify, _ := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: ed})
		tok, _, _ := issue.Issue(mustV7(t), mustV7(t), time.Time{})
		if _, err := verify.Verify(tok); err != nil {
			t.Fatalf("HS256 token after the switch: %v", err)
		}
		back, _ := load(db, auth.AlgHS256, nil, now.Add(2*time.Minute))
		// The first HS256 key was retired by the switch: a new one signs.
		if back.SigningKID() == ed.SigningKID() || back.SigningKID() == hs.SigningKID() || len(back.JWKS(now)) != 1 {
			t.Errorf("switching back signs with %s (ed %s, old hs %s)", back.SigningKID(), ed.SigningKID(), hs.SigningKID())
		}
	})
	t.Run("configured secret signs and is not stored", func(t *testing.T) {
		db := MustOpenStore(t)
		secret := []byte(strings.Repeat("s", 32))
		kr, err := load(db, auth.AlgHS256, secret, now)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := auth.HS256KeyFromSecret(secret)
		if kr.SigningKID() != want.KID {
			t.Errorf("signing kid %s, want %s", kr.SigningKID(), want.KID)
		}
		keys, _ := db.SigningKeys(ctx)
		for _, k := range keys {
			if string(k.Secret) == string(secret) {
				t.Error("the configured secret was written to the database")
			}
		}
		if _, err := load(db, auth.AlgHS256, []byte("short"), now); err == nil {
			t.Error("a short secret was accepted")
		}
		if _, err := load(db, auth.AlgEdDSA, secret, now); err == nil {
			t.Error("a secret was accepted for EdDSA")
		}
		if _, err := load(db, "RS256", nil, now); err == nil {
			t.Error("RS256 was accepted")
		}
	})
}

func mustV7(t *testing.T) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	db := MustOpenStore(t)
	now := time.Now()
	cfg := auth.KeyConfig{Store: db, Alg: auth.AlgEdDSA, AccessTTL: 15 * time.Minute}
	before, err := auth.LoadKeyring(ctx, cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: before, AccessTTL: cfg.AccessTTL})
	old, _, _ := tokens.Issue(mustV7(t), mustV7(t), time.Time{})

	if err := auth.RotateKey(ctx, cfg, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, err := auth.LoadKeyring(ctx, cfg, now.Add(2*time.Minute))
	if err != nil || after.SigningKID() == before.SigningKID() {
		t.Fatalf("rotation did not change the signing key: %v", err)
	}
	if len(after.JWKS(now.Add(2*time.Minute))) != 2 {
		t.Errorf("JWKS has %d keys during the retired key's window, want 2", len(after.JWKS(now.Add(2*time.Minute))))
	}
	// A reloader swaps the new keyring in: old tokens still verify.
	reloader := auth.NewKeyReloader(cfg, tokens)
	if err := reloader.Reload(ctx, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if tokens.Keyring().SigningKID() != after.SigningKID() {
		t.Error("the reloader did not swap the keyring in")
	}
	if _, err := tokens.Verify(old); err != nil {
		t.Errorf("a token of the retired key: %v", err)
	}
	// A key made after the last reload is found by the next unknown kid.
	if err := auth.RotateKey(ctx, cfg, now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	newest, _ := auth.LoadKeyring(ctx, cfg, now.Add(3*time.Minute))
	if err := reloader.ReloadForUnknownKey(ctx, now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if tokens.Keyring().SigningKID() != newest.SigningKID() {
		t.Error("an unknown kid right after a reload did not reload again")
	}
	// Past the window, the retired key leaves the keyring and the JWKS.
	late, _ := auth.LoadKeyring(ctx, cfg, now.Add(3*time.Minute+cfg.AccessTTL+time.Minute))
	if len(late.JWKS(now.Add(3*time.Minute+cfg.AccessTTL+time.Minute))) != 1 {
		t.Errorf("JWKS has %d keys after the window, want 1", len(late.JWKS(now.Add(3*time.Minute+cfg.AccessTTL+time.Minute))))
	}
	// A rotation deletes keys whose window has ended.
	if err := auth.RotateKey(ctx, cfg, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if keys, _ := db.SigningKeys(ctx); len(keys) != 2 {
		t.Errorf("%d keys stored, want the new and the just-retired", len(keys))
	}
	if err := auth.RotateKey(ctx, auth.KeyConfig{Store: db, Alg: auth.AlgHS256, Secret: []byte(strings.Repeat("s", 32))}, now); err == nil {
		t.Error("rotating a configured secret was accepted")
	}
}

// A login against a hash made before passwords were normalised is
// accepted once and stores the normalised hash.
func TestCheckPasswordRehashesUnnormalisedHashes(t *testing.T) {
	ctx := context.Background()
	db := MustOpenStore(t)
	h := MustNewHasher(t, fastParams(), 1)
	typed := "ｆｕｌｌ ｗｉｄｔｈ ｐａｓｓｐｈｒａｓｅ"
	legacy, err := auth.HashAsIs(h, typed)
	if err != nil {
		t.Fatal(err)
	}
	u := bookstore.User{ID: mustV7(t), Username: "alice", PasswordHash: legacy, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CheckPassword(ctx, db, "alice", typed); err != nil {
		t.Fatalf("login with the legacy hash: %v", err)
	}
	stored, _ := db.FindUserByID(ctx, u.ID)
	if stored.PasswordHash == legacy {
		t.Fatal("the legacy hash was not replaced")
	}
	if ok, rehash, _ := h.Verify(ctx, stored.PasswordHash, "full width passphrase"); !ok || rehash {
		t.Fatalf("the new hash is not of the normalised password: ok=%v rehash=%v", ok, rehash)
	}
}

// A rehash never undoes a password change that committed between the
// login's read and its write.
func TestCheckPasswordRehashLosesToAPasswordChange(t *testing.T) {
	ctx := context.Background()
	db, u := mustCreateOutdatedUser(t)
	current := MustNewHasher(t, fastParams(), 1)
	// The password changes while the login holds its verified hash: the
	// first KDF call is the login's verify, the second its rehash.
	calls := 0
	auth.WrapKDF(current, func(next auth.KDF) auth.KDF {
		return func(p, s []byte, t, m uint32, th uint8, k uint32) []byte {
			if calls++; calls == 2 {
				if err := db.ChangePassword(ctx, u.ID, "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZWhhc2hzb21laGFzaA", uuid.Nil, time.Now()); err != nil {
					panic(err)
				}
			}
			return next(p, s, t, m, th, k)
		}
	})
	if _, err := current.CheckPassword(ctx, db, "alice", "plum tractor glacier umbrella"); err != nil {
		t.Fatal(err)
	}
	stored, _ := db.FindUserByID(ctx, u.ID)
	if stored.PasswordHash != "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZWhhc2hzb21laGFzaA" {
		t.Fatalf("the rehash replaced the changed password: %s", stored.PasswordHash)
	}
}

// mustCreateOutdatedUser stores alice with a hash of outdated parameters,
// which a login with fastParams upgrades.
func mustCreateOutdatedUser(t *testing.T) (*sqlite.DB, bookstore.User) {
	t.Helper()
	db := MustOpenStore(t)
	old := MustNewHasher(t, auth.Argon2Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	policy, _ := auth.NewPasswordPolicy(15)
	u, _ := auth.NewUser(t.Context(), old, policy, "alice", "plum tractor glacier umbrella", false, time.Now())
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return db, u
}
