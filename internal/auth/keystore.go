package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// LoadKeyring builds the keyring a server starts with.
//
// With a configured secret (BOOKSTORE_JWT_SECRET), that HS256 key signs; it
// is never written to the database. Otherwise the newest stored key of alg
// signs, and one is generated and stored on first start. Every other stored
// key, of either algorithm, keeps verifying the tokens it signed.
func LoadKeyring(ctx context.Context, ks bookstore.KeyStore, alg string, secret []byte, now time.Time) (*Keyring, error) {
	if alg != AlgHS256 && alg != AlgEdDSA {
		return nil, fmt.Errorf("unsupported JWT algorithm %q (want %s or %s)", alg, AlgHS256, AlgEdDSA)
	}
	if secret != nil && alg != AlgHS256 {
		return nil, fmt.Errorf("a JWT secret is an HS256 key; it cannot be used with %s", alg)
	}
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	var signer *bookstore.SigningKey
	if secret != nil {
		k, err := HS256KeyFromSecret(secret)
		if err != nil {
			return nil, err
		}
		k.CreatedAt = now
		signer = &k
	} else {
		for i := range stored {
			if stored[i].Alg == alg && stored[i].RetiredAt == nil {
				signer = &stored[i]
				break // newest first
			}
		}
		if signer == nil {
			k, err := newKey(alg, now)
			if err != nil {
				return nil, err
			}
			if err := ks.AddSigningKey(ctx, k); err != nil {
				return nil, fmt.Errorf("store the new signing key: %w", err)
			}
			signer = &k
		}
	}
	// Only signer signs: every other key is handed to the keyring as retired,
	// so it verifies but never signs.
	keys := []bookstore.SigningKey{*signer}
	for _, k := range stored {
		if k.KID == signer.KID {
			continue
		}
		if k.RetiredAt == nil {
			retired := now
			k.RetiredAt = &retired
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys)
}

func newKey(alg string, now time.Time) (bookstore.SigningKey, error) {
	if alg == AlgEdDSA {
		return NewEd25519Key(now)
	}
	return NewHS256Key(now)
}
