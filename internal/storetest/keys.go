package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func testKeys(t *testing.T, open func(t *testing.T) bookstore.Store) {
	t.Run("SigningKeys", func(t *testing.T) {
		s := open(t)
		if keys, err := s.SigningKeys(t.Context()); err != nil || len(keys) != 0 {
			t.Fatalf("SigningKeys on an empty store = %v, %v", keys, err)
		}
		retired := t0.Add(time.Hour)
		add := []bookstore.SigningKey{
			{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0, RetiredAt: &retired},
			{KID: "k3", Alg: "HS256", Secret: []byte("secret-3"), CreatedAt: t0.Add(2 * time.Hour)},
			{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)},
		}
		for _, k := range add {
			if err := s.AddSigningKey(t.Context(), k); err != nil {
				t.Fatalf("AddSigningKey(%s): %v", k.KID, err)
			}
		}
		dup := bookstore.SigningKey{KID: "k2", Alg: "HS256", Secret: []byte("other"), CreatedAt: t0}
		wantErr(t, s.AddSigningKey(t.Context(), dup), bookstore.ErrConflict)

		wantSigningKeys(t, s, add[1], add[2], add[0]) // newest first
	})

	t.Run("RotateSigningKey", func(t *testing.T) {
		s := open(t)
		retired := t0.Add(time.Hour)
		old := []bookstore.SigningKey{
			{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0, RetiredAt: &retired},
			{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)},
			{KID: "k3", Alg: "HS256", Secret: []byte("secret-3"), CreatedAt: t0.Add(2 * time.Hour)},
		}
		for _, k := range old {
			mustAddSigningKey(t, s, k)
		}
		now := t0.Add(3 * time.Hour)
		k4 := bookstore.SigningKey{KID: "k4", Alg: "EdDSA", Secret: []byte("seed-4"), CreatedAt: now}
		if err := s.RotateSigningKey(t.Context(), k4, now); err != nil {
			t.Fatalf("RotateSigningKey: %v", err)
		}
		k2, k3 := old[1], old[2]
		k2.RetiredAt, k3.RetiredAt = &now, &now
		wantSigningKeys(t, s, k4, k3, k2, old[0]) // k1 keeps its earlier RetiredAt

		// A second rotation retires the first one's key and nothing else.
		later := now.Add(time.Hour)
		k5 := bookstore.SigningKey{KID: "k5", Alg: "EdDSA", Secret: []byte("seed-5"), CreatedAt: later}
		if err := s.RotateSigningKey(t.Context(), k5, later); err != nil {
			t.Fatalf("RotateSigningKey again: %v", err)
		}
		k4.RetiredAt = &later
		wantSigningKeys(t, s, k5, k4, k3, k2, old[0])
	})

	t.Run("RotateSigningKeyEmpty", func(t *testing.T) {
		s := open(t)
		k := bookstore.SigningKey{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0}
		if err := s.RotateSigningKey(t.Context(), k, t0); err != nil {
			t.Fatalf("RotateSigningKey on an empty store: %v", err)
		}
		wantSigningKeys(t, s, k)
	})

	t.Run("RotateSigningKeyConflict", func(t *testing.T) {
		s := open(t)
		k1 := bookstore.SigningKey{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0}
		k2 := bookstore.SigningKey{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)}
		mustAddSigningKey(t, s, k1)
		mustAddSigningKey(t, s, k2)
		now := t0.Add(2 * time.Hour)
		dup := bookstore.SigningKey{KID: "k1", Alg: "HS256", Secret: []byte("other"), CreatedAt: now}
		wantErr(t, s.RotateSigningKey(t.Context(), dup, now), bookstore.ErrConflict)
		wantSigningKeys(t, s, k2, k1) // neither retired, k1 not replaced
	})

	t.Run("RotateSigningKeyConcurrent", func(t *testing.T) {
		s := open(t)
		mustAddSigningKey(t, s, bookstore.SigningKey{KID: "k0", Alg: "EdDSA", Secret: []byte("seed-0"), CreatedAt: t0})
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				now := t0.Add(time.Duration(i+1) * time.Minute)
				k := bookstore.SigningKey{KID: fmt.Sprintf("r%d", i), Alg: "EdDSA", Secret: []byte("seed"), CreatedAt: now}
				errs[i] = s.RotateSigningKey(t.Context(), k, now)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("RotateSigningKey %d: %v", i, err)
			}
		}
		keys, err := s.SigningKeys(t.Context())
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		var live []string
		for _, k := range keys {
			if k.RetiredAt == nil {
				live = append(live, k.KID)
			}
		}
		if len(keys) != n+1 || len(live) != 1 {
			t.Fatalf("after %d concurrent rotations: %d keys, live %v; want %d keys, one live", n, len(keys), live, n+1)
		}
	})

	t.Run("RetireSigningKeys", func(t *testing.T) {
		s := open(t)
		retired := t0.Add(time.Hour)
		k1 := bookstore.SigningKey{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0, RetiredAt: &retired}
		k2 := bookstore.SigningKey{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)}
		k3 := bookstore.SigningKey{KID: "k3", Alg: "HS256", Secret: []byte("secret-3"), CreatedAt: t0.Add(2 * time.Hour)}
		for _, k := range []bookstore.SigningKey{k1, k2, k3} {
			mustAddSigningKey(t, s, k)
		}
		now := t0.Add(3 * time.Hour)
		if n, err := s.RetireSigningKeys(t.Context(), "k3", now); err != nil || n != 1 {
			t.Fatalf("RetireSigningKeys(keep k3) = %d, %v; want 1", n, err)
		}
		k2.RetiredAt = &now
		wantSigningKeys(t, s, k3, k2, k1) // k1 keeps its earlier time, k3 stays live
		// Again later: a retirement is stored once.
		later := now.Add(time.Hour)
		if n, err := s.RetireSigningKeys(t.Context(), "", later); err != nil || n != 1 {
			t.Fatalf("RetireSigningKeys(keep none) = %d, %v; want 1", n, err)
		}
		k3.RetiredAt = &later
		wantSigningKeys(t, s, k3, k2, k1)
		if n, err := s.RetireSigningKeys(t.Context(), "", later.Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("RetireSigningKeys with none live = %d, %v; want 0", n, err)
		}
		wantSigningKeys(t, s, k3, k2, k1)
	})

	t.Run("RevokeSigningKey", func(t *testing.T) {
		s := open(t)
		retired := t0.Add(time.Hour)
		k1 := bookstore.SigningKey{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0, RetiredAt: &retired}
		k2 := bookstore.SigningKey{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)}
		mustAddSigningKey(t, s, k1)
		mustAddSigningKey(t, s, k2)
		now := t0.Add(2 * time.Hour)
		successor := bookstore.SigningKey{KID: "k3", Alg: "EdDSA", Secret: []byte("seed-3"), CreatedAt: now}

		// A retired key goes alone; the successor is not needed.
		if replaced, err := s.RevokeSigningKey(t.Context(), "k1", successor, now); err != nil || replaced {
			t.Fatalf("RevokeSigningKey(retired k1) = %v, %v; want no replacement", replaced, err)
		}
		wantSigningKeys(t, s, k2)
		// Unknown (or already revoked): ErrNotFound, nothing changes.
		_, err := s.RevokeSigningKey(t.Context(), "k1", successor, now)
		wantErr(t, err, bookstore.ErrNotFound)
		wantSigningKeys(t, s, k2)
		// The live key is replaced in the same transaction.
		if replaced, err := s.RevokeSigningKey(t.Context(), "k2", successor, now); err != nil || !replaced {
			t.Fatalf("RevokeSigningKey(live k2) = %v, %v; want a replacement", replaced, err)
		}
		wantSigningKeys(t, s, successor)
		// A successor whose kid exists rolls the whole revocation back.
		k4 := bookstore.SigningKey{KID: "k4", Alg: "EdDSA", Secret: []byte("seed-4"), CreatedAt: t0, RetiredAt: &retired}
		mustAddSigningKey(t, s, k4)
		_, err = s.RevokeSigningKey(t.Context(), "k3", k4, now)
		wantErr(t, err, bookstore.ErrConflict)
		wantSigningKeys(t, s, successor, k4)
	})

	t.Run("DeleteRetiredSigningKeys", func(t *testing.T) {
		s := open(t)
		if n, err := s.DeleteRetiredSigningKeys(t.Context(), t0); err != nil || n != 0 {
			t.Fatalf("DeleteRetiredSigningKeys on an empty store = %d, %v", n, err)
		}
		r1, r2, r3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
		keys := []bookstore.SigningKey{
			{KID: "k1", Alg: "EdDSA", Secret: []byte("seed-1"), CreatedAt: t0, RetiredAt: &r1},
			{KID: "k2", Alg: "EdDSA", Secret: []byte("seed-2"), CreatedAt: t0.Add(time.Minute), RetiredAt: &r2},
			{KID: "k3", Alg: "EdDSA", Secret: []byte("seed-3"), CreatedAt: t0.Add(2 * time.Minute), RetiredAt: &r3},
			{KID: "k4", Alg: "EdDSA", Secret: []byte("seed-4"), CreatedAt: t0.Add(3 * time.Minute)},
		}
		for _, k := range keys {
			mustAddSigningKey(t, s, k)
		}
		// before is exclusive: k2, retired exactly then, stays.
		if n, err := s.DeleteRetiredSigningKeys(t.Context(), r2); err != nil || n != 1 {
			t.Fatalf("DeleteRetiredSigningKeys(r2) = %d, %v; want 1", n, err)
		}
		wantSigningKeys(t, s, keys[3], keys[2], keys[1])
		// A live key is never deleted, however late before is.
		if n, err := s.DeleteRetiredSigningKeys(t.Context(), t0.Add(100*time.Hour)); err != nil || n != 2 {
			t.Fatalf("DeleteRetiredSigningKeys(later) = %d, %v; want 2", n, err)
		}
		wantSigningKeys(t, s, keys[3])
	})

	t.Run("Secret", func(t *testing.T) {
		s := open(t)
		v, err := s.Secret(t.Context(), "cursor", func() ([]byte, error) { return []byte("first"), nil })
		if err != nil || string(v) != "first" {
			t.Fatalf("Secret = %q, %v; want the generated value", v, err)
		}
		v, err = s.Secret(t.Context(), "cursor", func() ([]byte, error) { return []byte("second"), nil })
		if err != nil || string(v) != "first" {
			t.Fatalf("Secret again = %q, %v; want the stored value", v, err)
		}
		v, err = s.Secret(t.Context(), "other", func() ([]byte, error) { return []byte("third"), nil })
		if err != nil || string(v) != "third" {
			t.Fatalf("Secret(other) = %q, %v", v, err)
		}
	})

	t.Run("SecretGenerateFails", func(t *testing.T) {
		s := open(t)
		errRand := errors.New("no entropy")
		_, err := s.Secret(t.Context(), "x", func() ([]byte, error) { return nil, errRand })
		if !errors.Is(err, errRand) {
			t.Fatalf("err = %v, want %v", err, errRand)
		}
		v, err := s.Secret(t.Context(), "x", func() ([]byte, error) { return []byte("ok"), nil })
		if err != nil || string(v) != "ok" {
			t.Fatalf("Secret after a failed generate = %q, %v", v, err)
		}
	})

	t.Run("SecretConcurrentFirstCalls", func(t *testing.T) {
		s := open(t)
		const n = 20
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = s.Secret(t.Context(), "shared", func() ([]byte, error) {
					return fmt.Appendf(nil, "value-%d", i), nil
				})
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Secret: %v", errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("call %d got %q, call 0 got %q", i, got[i], got[0])
			}
		}
		if !bytes.HasPrefix(got[0], []byte("value-")) {
			t.Fatalf("stored %q, not a generated value", got[0])
		}
	})
}

func mustAddSigningKey(t *testing.T, s bookstore.Store, k bookstore.SigningKey) {
	t.Helper()
	if err := s.AddSigningKey(t.Context(), k); err != nil {
		t.Fatalf("AddSigningKey(%s): %v", k.KID, err)
	}
}

// wantSigningKeys checks that SigningKeys returns exactly want, in order.
func wantSigningKeys(t *testing.T, s bookstore.Store, want ...bookstore.SigningKey) {
	t.Helper()
	got, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("SigningKeys = %d keys %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.KID != w.KID || g.Alg != w.Alg || !bytes.Equal(g.Secret, w.Secret) || !g.CreatedAt.Equal(w.CreatedAt) ||
			(g.RetiredAt == nil) != (w.RetiredAt == nil) || g.RetiredAt != nil && !g.RetiredAt.Equal(*w.RetiredAt) {
			t.Fatalf("key %d = %+v, want %+v", i, g, w)
		}
	}
}
