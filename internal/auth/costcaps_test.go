package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// countKDFCalls counts the derivations h runs from now on.
func countKDFCalls(h *auth.Hasher) *atomic.Int64 {
	var calls atomic.Int64
	auth.WrapKDF(h, func(next auth.KDF) auth.KDF {
		return func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
			calls.Add(1)
			return next(password, salt, time, memory, threads, keyLen)
		}
	})
	return &calls
}

// overCapHashes are well-formed hashes whose parameters are over the cost
// caps: the measured ones (8.7 s, 2.6 s, 3.0 s per wrong password
// before the caps) and one just over each cap.
var overCapHashes = map[string]string{
	"scrypt 2^17 r16 p16 (8.7 s)":  "scrypt:131072:16:16$salt$" + strings.Repeat("ab", 64),
	"scrypt work just over":        "scrypt:65536:8:2$salt$" + strings.Repeat("ab", 64),
	"scrypt memory 2^17 r8":        "scrypt:131072:8:1$salt$" + strings.Repeat("ab", 64),
	"scrypt p 5":                   "scrypt:16:8:5$salt$" + strings.Repeat("ab", 64),
	"pbkdf2 sha512 5M (2.6 s)":     "pbkdf2:sha512:5000000$salt$" + strings.Repeat("ab", 64),
	"pbkdf2 sha512 just over":      "pbkdf2:sha512:350001$salt$" + strings.Repeat("ab", 64),
	"pbkdf2 sha256 just over":      "pbkdf2:sha256:1000001$salt$" + strings.Repeat("ab", 32),
	"argon2id 1 GiB t=2 (3.0 s)":   "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"argon2id memory just over":    "$argon2id$v=19$m=65537,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"argon2id t=100 (old cap)":     "$argon2id$v=19$m=64,t=100,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"argon2id passes just over":    "$argon2id$v=19$m=64,t=5,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"argon2id parallelism 9 lanes": "$argon2id$v=19$m=4096,t=1,p=9$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
}

// TestHashCostCaps: a hash over the caps is refused as unusable without
// running any derivation; hashes at library defaults (werkzeug's scrypt
// and pbkdf2, PHP's and argon2-cffi's argon2id) are within them.
func TestHashCostCaps(t *testing.T) {
	h := MustNewHasher(t, fastParams(), 2)
	calls := countKDFCalls(h)
	for name, stored := range overCapHashes {
		t.Run(name, func(t *testing.T) {
			before := calls.Load()
			ok, rehash, err := h.Verify(context.Background(), stored, "password")
			if ok || rehash || !errors.Is(err, auth.ErrUnusableHash) || !errors.Is(err, auth.ErrHashOverCostCaps) {
				t.Errorf("Verify = %v, %v, %v; want ErrUnusableHash and ErrHashOverCostCaps", ok, rehash, err)
			}
			if n := calls.Load() - before; n != 0 {
				t.Errorf("ran the KDF %d times (padding included); want 0", n)
			}
			if auth.IsWerkzeugHash(stored) && !errors.Is(auth.CheckWerkzeugHash(stored), auth.ErrHashOverCostCaps) {
				t.Error("CheckWerkzeugHash (the importer's check) accepts it")
			}
		})
	}
	for _, within := range []string{
		"scrypt:32768:8:1$salt$" + strings.Repeat("ab", 64),      // werkzeug 3.x default
		"scrypt:65536:8:1$salt$" + strings.Repeat("ab", 64),      // twice that, the cap
		"pbkdf2:sha256:1000000$salt$" + strings.Repeat("ab", 32), // werkzeug 3.1 default
		"pbkdf2:sha512:350000$salt$" + strings.Repeat("ab", 64),
	} {
		if err := auth.CheckWerkzeugHash(within); err != nil {
			t.Errorf("CheckWerkzeugHash(%s) = %v; want it within the caps", within[:strings.IndexByte(within, '$')], err)
		}
	}
	for _, p := range []auth.Argon2Params{
		{Memory: 64 << 10, Iterations: 4, Parallelism: 1, SaltLength: 16, KeyLength: 32}, // PHP's default
		{Memory: 64 << 10, Iterations: 3, Parallelism: 4, SaltLength: 16, KeyLength: 32}, // argon2-cffi's
	} {
		if _, err := auth.NewHasher(p, 1); err != nil {
			t.Errorf("NewHasher(%+v) = %v; want library defaults within the caps", p, err)
		}
	}
	if _, err := auth.NewHasher(auth.Argon2Params{Memory: 128 << 10, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1); !errors.Is(err, auth.ErrHashOverCostCaps) {
		t.Errorf("NewHasher over the caps = %v; want ErrHashOverCostCaps (never write a hash Verify refuses)", err)
	}
}

// TestCheckPasswordUnusableHashFailsClosed: a user whose stored hash is
// over the caps cannot log in, gets the answer of a wrong password, costs
// one dummy derivation like any wrong password, and the error says why.
func TestCheckPasswordUnusableHashFailsClosed(t *testing.T) {
	ctx := context.Background()
	db := MustOpenStore(t)
	h := MustNewHasher(t, fastParams(), 2)
	calls := countKDFCalls(h)
	u := bookstore.User{ID: uuid.Must(uuid.NewV7()), Username: "heavy", PasswordHash: overCapHashes["scrypt 2^17 r16 p16 (8.7 s)"], CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := h.CheckPassword(ctx, db, "heavy", "password")
	if !errors.Is(err, auth.ErrInvalidCredentials) || !errors.Is(err, auth.ErrUnusableHash) || !strings.Contains(err.Error(), u.ID.String()) {
		t.Errorf("CheckPassword = %v; want ErrInvalidCredentials with ErrUnusableHash and the user id", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("ran %d derivations; want 1, the dummy's", n)
	}
}

// TestLegacyVerifyCostsAsMuchAsArgon2 compares the median time of a wrong
// password for an imported werkzeug account (sha256$, a single HMAC), an
// argon2id account and an unknown username. Before the padding the legacy
// median was three orders of magnitude below the others; the tolerance
// (a factor of 2 either way) is generous for a shared machine, and the
// three are measured interleaved so load drifts hit all alike.
func TestLegacyVerifyCostsAsMuchAsArgon2(t *testing.T) {
	ctx := context.Background()
	// Big enough that a derivation dwarfs the scheduling noise (a few ms).
	params := auth.Argon2Params{Memory: 8 << 10, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	h := MustNewHasher(t, params, 1)
	argon, err := h.Hash(ctx, werkzeugPassword)
	if err != nil {
		t.Fatal(err)
	}
	legacy := werkzeugVectors[0].hash // sha256$: the Flask tutorial's users
	paths := map[string]func(){
		"argon2id": func() { h.Verify(ctx, argon, "wrong password") },
		"legacy":   func() { h.Verify(ctx, legacy, "wrong password") },
		"dummy":    func() { h.VerifyDummy(ctx, "wrong password") },
	}
	const rounds = 15
	times := map[string][]time.Duration{}
	for range rounds {
		for name, run := range paths {
			start := time.Now()
			run()
			times[name] = append(times[name], time.Since(start))
		}
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	ref := median(times["argon2id"])
	for _, name := range []string{"legacy", "dummy"} {
		m := median(times[name])
		if ratio := float64(m) / float64(ref); ratio < 0.5 || ratio > 2 {
			t.Errorf("median %s %v vs argon2id %v: ratio %.2f, want within [0.5, 2]", name, m, ref, ratio)
		}
	}
	t.Logf("medians: argon2id %v, legacy %v, dummy %v", ref, median(times["legacy"]), median(times["dummy"]))
}
