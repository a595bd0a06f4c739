package auth_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// fastParams are the cheapest parameters NewHasher accepts, for tests that
// are about the protocol rather than the cost.
func fastParams() auth.Argon2Params {
	return auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func MustNewHasher(tb testing.TB, p auth.Argon2Params, maxConcurrent int) *auth.Hasher {
	tb.Helper()
	h, err := auth.NewHasher(p, maxConcurrent)
	if err != nil {
		tb.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHasherRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := MustNewHasher(t, auth.DefaultArgon2Params(), 0)
	phcFormat := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

	for _, password := range []string{"plum tractor glacier umbrella", "ŝtupo ĉe la rivero 🚲", ""} {
		phc, err := h.Hash(ctx, password)
		if err != nil {
			t.Fatalf("Hash(%q): %v", password, err)
		}
		if !phcFormat.MatchString(phc) {
			t.Errorf("Hash(%q) = %q, not a default argon2id PHC string", password, phc)
		}
		ok, rehash, err := h.Verify(ctx, phc, password)
		if !ok || rehash || err != nil {
			t.Errorf("Verify(right password %q) = %v, %v, %v; want true, false, nil", password, ok, rehash, err)
		}
		ok, rehash, err = h.Verify(ctx, phc, password+"x")
		if ok || rehash || err != nil {
			t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
		}
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := MustNewHasher(t, fastParams(), 0)
	a, _ := h.Hash(context.Background(), "same password")
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
}

// The vectors of the reference implementation (phc-winner-argon2, test.c):
// they pin the encoding (standard base64 without padding) as well as the KDF.
func TestVerifyReferenceVectors(t *testing.T) {
	h := MustNewHasher(t, auth.DefaultArgon2Params(), 0)
	tests := []struct {
		phc, password string
		want          bool
	}{
		{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", true},
		{"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc", "password", true},
		{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94", "differentpassword", true},
		{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94", "password", false},
	}
	for _, tt := range tests {
		ok, rehash, err := h.Verify(context.Background(), tt.phc, tt.password)
		if err != nil || ok != tt.want || rehash != tt.want {
			// Other parameters than the default: a match needs a rehash.
			t.Errorf("Verify(%q, %q) = %v, %v, %v; want %v, %v, nil", tt.phc, tt.password, ok, rehash, err, tt.want, tt.want)
		}
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := context.Background()
	current := MustNewHasher(t, fastParams(), 0)
	weaker := func(change func(*auth.Argon2Params)) auth.Argon2Params {
		p := fastParams()
		change(&p)
		return p
	}
	tests := []struct {
		name   string
		params auth.Argon2Params
		want   bool
	}{
		{"same parameters", fastParams(), false},
		{"less memory", weaker(func(p *auth.Argon2Params) { p.Memory = 32 }), true},
		{"more iterations", weaker(func(p *auth.Argon2Params) { p.Iterations = 2 }), true},
		{"more lanes", weaker(func(p *auth.Argon2Params) { p.Parallelism = 2 }), true},
		{"shorter salt", weaker(func(p *auth.Argon2Params) { p.SaltLength = 8 }), true},
		{"shorter key", weaker(func(p *auth.Argon2Params) { p.KeyLength = 16 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := MustNewHasher(t, tt.params, 0).Hash(ctx, "pw")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := current.Verify(ctx, phc, "pw")
			if !ok || rehash != tt.want || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			// A wrong password never asks for a rehash: there is nothing to rehash with.
			if ok, rehash, _ := current.Verify(ctx, phc, "wrong"); ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

func TestVerifyMalformedPHC(t *testing.T) {
	const salt, key = "c29tZXNhbHQ", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	phc := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	h := MustNewHasher(t, fastParams(), 0)
	calls := countKDFCalls(h)
	tests := map[string]string{
		"empty":                "",
		"dollar":               "$",
		"plain text":           "hunter2",
		"argon2i":              "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"bcrypt":               "$2y$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"no version":           "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"version 16":           "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no leading dollar":    "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"trailing field":       phc("m=64,t=1,p=1") + "$",
		"missing hash":         "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"params out of order":  phc("t=1,m=64,p=1"),
		"two params":           phc("m=64,t=1"),
		"four params":          phc("m=64,t=1,p=1,x=1"),
		"empty number":         phc("m=,t=1,p=1"),
		"negative memory":      phc("m=-64,t=1,p=1"),
		"plus sign":            phc("m=+64,t=1,p=1"),
		"space":                phc("m=64, t=1,p=1"),
		"hex number":           phc("m=0x40,t=1,p=1"),
		"memory overflows u32": phc("m=4294967296,t=1,p=1"),
		"memory over 64 MiB":   phc("m=65537,t=1,p=1"),
		"memory below 8p":      phc("m=15,t=1,p=2"),
		"zero iterations":      phc("m=64,t=0,p=1"),
		"5 passes":             phc("m=64,t=5,p=1"),
		"zero lanes":           phc("m=64,t=1,p=0"),
		"256 lanes":            phc("m=4096,t=1,p=256"),
		"salt not base64":      "$argon2id$v=19$m=64,t=1,p=1$c29t!XNhbHQ$" + key,
		"salt padded":          "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$" + key,
		"hash url alphabet":    "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPP_",
		"salt trailing bits":   "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHR$" + key,
		"salt 4 bytes":         "$argon2id$v=19$m=64,t=1,p=1$c29tZQ$" + key,
		"salt 65 bytes":        "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 87) + "$" + key,
		"key 8 bytes":          "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$CTFhFdXPJO0",
		"empty key":            "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"very long":            phc("m=64,t=1,p=1") + strings.Repeat("A", 1<<20),
		"many dollars":         strings.Repeat("$", 10000),
		"nul byte":             phc("m=64,t=1,p=1\x00"),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), s, "password")
			if err == nil || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want an error", ok, rehash, err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("malformed hashes ran the KDF %d times; want 0", n)
	}
}

// FuzzVerify checks that no stored string makes Verify panic or run a KDF
// with parameters outside the bounds (the cost caps included). The KDF is
// replaced by a stub, so a string at the caps costs nothing here.
func FuzzVerify(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=1048576,t=100,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Add("$$$$$$")
	h := MustNewHasher(f, fastParams(), 0)
	auth.WrapKDF(h, func(auth.KDF) auth.KDF {
		return func(_, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
			if memory > 64<<10 || time < 1 || time > 4 || threads < 1 || threads > 8 || memory < 8*uint32(threads) ||
				len(salt) < 8 || len(salt) > 64 || keyLen < 16 || keyLen > 64 {
				panic("KDF called with out-of-bounds parameters")
			}
			return make([]byte, keyLen)
		}
	})
	f.Fuzz(func(t *testing.T, phc string) {
		_, _, _ = h.Verify(context.Background(), phc, "password")
	})
}

func TestHasherBoundsConcurrentHashes(t *testing.T) {
	for _, limit := range []int{1, 2} {
		h := MustNewHasher(t, auth.Argon2Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, limit)
		var inFlight, peak atomic.Int32
		auth.WrapKDF(h, func(next auth.KDF) auth.KDF {
			return func(p, s []byte, tm, m uint32, th uint8, l uint32) []byte {
				n := inFlight.Add(1)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				defer inFlight.Add(-1)
				return next(p, s, tm, m, th, l)
			}
		})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 4 {
					if _, err := h.Hash(context.Background(), "pw"); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got := peak.Load(); got > int32(limit) {
			t.Errorf("maxConcurrent=%d: %d hashes ran at once", limit, got)
		}
	}
}

func TestHashWaitHonoursContext(t *testing.T) {
	h := MustNewHasher(t, fastParams(), 1)
	entered, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	auth.WrapKDF(h, func(next auth.KDF) auth.KDF {
		return func(p, s []byte, tm, m uint32, th uint8, l uint32) []byte {
			if hold.CompareAndSwap(true, false) { // only the first call blocks
				entered <- struct{}{}
				<-release
			} else {
				entered <- struct{}{} // a second hash running now would be a bug; the test sees it
			}
			return next(p, s, tm, m, th, l)
		}
	})

	// The first hash takes the only slot and stays in it.
	first := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "first"); first <- err }()
	<-entered

	// A second hash must wait for the slot and give up when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "pw")
		second <- err
	}()
	cancel()
	select {
	case <-entered:
		t.Fatal("a second hash ran while the only slot was taken")
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waiting Verify = %v; want context.Canceled", err)
		}
	}

	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Hash: %v", err)
	}

	// An already ended context never starts a hash, even with a free slot.
	_, err := h.Hash(ctx, "late")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Hash(cancelled ctx) = %v; want context.Canceled", err)
	}
}

func TestVerifyDummy(t *testing.T) {
	params := auth.Argon2Params{Memory: 512, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}
	h := MustNewHasher(t, params, 0)
	var calls atomic.Int32
	auth.WrapKDF(h, func(next auth.KDF) auth.KDF {
		return func(p, s []byte, tm, m uint32, th uint8, l uint32) []byte {
			calls.Add(1)
			// The dummy must cost what a current hash costs.
			if tm != params.Iterations || m != params.Memory || th != params.Parallelism || l != params.KeyLength || len(s) != int(params.SaltLength) {
				t.Errorf("dummy KDF ran with t=%d m=%d p=%d salt=%d key=%d; want the hasher's parameters", tm, m, th, len(s), l)
			}
			return next(p, s, tm, m, th, l)
		}
	})
	for _, password := range []string{"", "guess", "plum tractor glacier umbrella"} {
		ok, err := h.VerifyDummy(context.Background(), password)
		if ok || err != nil {
			t.Errorf("VerifyDummy(%q) = %v, %v; want false, nil", password, ok, err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("VerifyDummy ran the KDF %d times for 3 calls", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.VerifyDummy(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy(cancelled ctx) = %v; want context.Canceled", err)
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	change := func(f func(*auth.Argon2Params)) auth.Argon2Params {
		p := auth.DefaultArgon2Params()
		f(&p)
		return p
	}
	tests := map[string]auth.Argon2Params{
		"zero value":      {},
		"zero iterations": change(func(p *auth.Argon2Params) { p.Iterations = 0 }),
		"zero lanes":      change(func(p *auth.Argon2Params) { p.Parallelism = 0 }),
		"memory over max": change(func(p *auth.Argon2Params) { p.Memory = 64<<10 + 1 }),
		"memory below 8p": change(func(p *auth.Argon2Params) { p.Memory, p.Parallelism = 8, 2 }),
		"salt 4 bytes":    change(func(p *auth.Argon2Params) { p.SaltLength = 4 }),
		"key 8 bytes":     change(func(p *auth.Argon2Params) { p.KeyLength = 8 }),
		"key 128 bytes":   change(func(p *auth.Argon2Params) { p.KeyLength = 128 }),
	}
	for name, p := range tests {
		if _, err := auth.NewHasher(p, 1); err == nil {
			t.Errorf("%s: NewHasher(%+v) succeeded", name, p)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	h := MustNewHasher(b, auth.DefaultArgon2Params(), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "plum tractor glacier umbrella"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHashQueueIsBounded(t *testing.T) {
	ctx := context.Background()
	t.Run("past the queue's wait a hash is refused at once", func(t *testing.T) {
		h, err := auth.NewHasher(fastParams(), 1, auth.MaxQueueWait(time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		release, err := h.Acquire(ctx) // the only slot, held
		if err != nil {
			t.Fatal(err)
		}
		before := h.Computed()
		_, err = h.Hash(ctx, "pw")
		var overloaded *auth.OverloadedError
		if !errors.As(err, &overloaded) || overloaded.Seconds() < 1 || !errors.Is(err, bookstore.ErrUnavailable) {
			t.Fatalf("Hash with the slot held and no queue allowed = %v; want *OverloadedError", err)
		}
		if _, err := h.VerifyDummy(ctx, "pw"); !errors.As(err, &overloaded) {
			t.Fatalf("VerifyDummy = %v; want *OverloadedError", err)
		}
		if h.Computed() != before {
			t.Fatalf("refused hashes were computed: %d, then %d", before, h.Computed())
		}
		release()
		if _, err := h.Hash(ctx, "pw"); err != nil {
			t.Fatalf("Hash with the slot free: %v", err)
		}
		if h.Computed() != before+1 {
			t.Fatalf("computed %d hashes, want %d", h.Computed(), before+1)
		}
	})
	t.Run("within the queue's wait a hash waits for its slot", func(t *testing.T) {
		h, err := auth.NewHasher(fastParams(), 1, auth.MaxQueueWait(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		release, err := h.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { _, err := h.Hash(ctx, "pw"); done <- err }()
		waiting, cancel := context.WithCancel(ctx)
		go func() { _, err := h.Hash(waiting, "pw"); done <- err }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("a queued hash whose context ended = %v; want context.Canceled", err)
		}
		release()
		if err := <-done; err != nil {
			t.Fatalf("the queued hash: %v", err)
		}
	})
	if _, err := auth.NewHasher(fastParams(), 1, auth.MaxQueueWait(0)); err == nil {
		t.Error("NewHasher accepted a queue wait of 0")
	}
}

// Passwords are hashed and verified as NFKC: the same password typed as
// composed or decomposed accents, or as full-width letters, matches.
func TestHashNormalisesPasswords(t *testing.T) {
	ctx := context.Background()
	h := MustNewHasher(t, fastParams(), 1)
	nfc, nfd := "caf\u00e9 au lait sous la pluie", "cafe\u0301 au lait sous la pluie"
	phc, err := h.Hash(ctx, nfc)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{nfc, nfd} {
		if ok, rehash, err := h.Verify(ctx, phc, typed); !ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want a match needing no rehash", typed, ok, rehash, err)
		}
	}
	if ok, _, _ := h.Verify(ctx, phc, "cafe au lait sous la pluie"); ok {
		t.Error("an unaccented password matched")
	}
}

// A hash made before normalisation, of a password that NFKC changes,
// verifies against the password as typed and asks for a rehash; the rehash
// is of the normalised form, which then matches without the fallback.
func TestVerifyFallsBackToTheTypedForm(t *testing.T) {
	ctx := context.Background()
	h := MustNewHasher(t, fastParams(), 1)
	typed := "ｆｕｌｌ ｗｉｄｔｈ ｐａｓｓｐｈｒａｓｅ"
	legacy, err := auth.HashAsIs(h, typed)
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := h.Verify(ctx, legacy, typed)
	if !ok || !rehash || err != nil {
		t.Fatalf("Verify(legacy) = %v, %v, %v; want a match needing a rehash", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, legacy, "full width passphrase"); ok {
		t.Fatal("the legacy hash matched the normalised form: it was not made of the typed one")
	}
	fresh, _ := h.Hash(ctx, typed)
	if ok, rehash, _ := h.Verify(ctx, fresh, typed); !ok || rehash {
		t.Fatalf("the rehashed form: ok=%v rehash=%v", ok, rehash)
	}
	if ok, _, _ := h.Verify(ctx, fresh, "full width passphrase"); !ok {
		t.Fatal("the rehashed form is not the normalised password")
	}
}
