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

		got, err := s.SigningKeys(t.Context())
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		want := []bookstore.SigningKey{add[1], add[2], add[0]} // newest first
		if len(got) != len(want) {
			t.Fatalf("SigningKeys = %d keys, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.KID != w.KID || g.Alg != w.Alg || !bytes.Equal(g.Secret, w.Secret) || !g.CreatedAt.Equal(w.CreatedAt) ||
				(g.RetiredAt == nil) != (w.RetiredAt == nil) || g.RetiredAt != nil && !g.RetiredAt.Equal(*w.RetiredAt) {
				t.Fatalf("key %d = %+v, want %+v", i, g, w)
			}
		}
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
