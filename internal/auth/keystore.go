package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// KeyConfig says where signing keys come from.
type KeyConfig struct {
	Store bookstore.KeyStore
	Alg   string // AlgHS256 or AlgEdDSA: the algorithm new tokens are signed with
	// Secret, when set (BOOKSTORE_JWT_SECRET), is the HS256 key that signs.
	// It is never written to the database.
	Secret []byte
	// AccessTTL is the longest an access token lives, so the longest a
	// retired key must keep verifying.
	AccessTTL time.Duration
}

func (c KeyConfig) check() error {
	if c.Alg != AlgHS256 && c.Alg != AlgEdDSA {
		return fmt.Errorf("unsupported JWT algorithm %q (want %s or %s)", c.Alg, AlgHS256, AlgEdDSA)
	}
	if c.Secret != nil && c.Alg != AlgHS256 {
		return fmt.Errorf("a JWT secret is an HS256 key; it cannot be used with %s", c.Alg)
	}
	return nil
}

// retention is how long a retired key keeps verifying: the tokens it
// signed last until AccessTTL after its retirement, give or take the leeway.
func (c KeyConfig) retention() time.Duration { return c.AccessTTL + clockLeeway }

// LoadKeyring builds the keyring from the database.
//
// With a configured secret, that HS256 key signs. Otherwise the newest
// stored key of the configured algorithm signs; on first start, or when the
// algorithm changes, a new key is made and the others retired. Any other
// stored key still live (the database's key when a secret is set, a key of
// another algorithm) is retired now, in the database, once: its window is
// counted from that first moment, not from every reload. Retired keys verify
// until every token they signed has expired (checked per token, see
// Keyring), then are left out and deleted.
func LoadKeyring(ctx context.Context, cfg KeyConfig, now time.Time) (*Keyring, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	stored, err := cfg.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	var signer *bookstore.SigningKey
	if cfg.Secret != nil {
		k, err := HS256KeyFromSecret(cfg.Secret)
		if err != nil {
			return nil, err
		}
		k.CreatedAt = now
		signer = &k
	} else {
		signer = newestLive(stored, cfg.Alg)
		if signer == nil {
			if err := RotateKey(ctx, cfg, now); err != nil {
				return nil, err
			}
			if stored, err = cfg.Store.SigningKeys(ctx); err != nil {
				return nil, fmt.Errorf("load signing keys: %w", err)
			}
			if signer = newestLive(stored, cfg.Alg); signer == nil {
				return nil, fmt.Errorf("no %s signing key after making one", cfg.Alg)
			}
		}
	}
	keep := signer.KID
	if cfg.Secret != nil {
		keep = "" // the secret's key is never stored
	}
	if slices.ContainsFunc(stored, func(k bookstore.SigningKey) bool { return k.RetiredAt == nil && k.KID != keep }) {
		if _, err := cfg.Store.RetireSigningKeys(ctx, keep, now); err != nil {
			return nil, fmt.Errorf("retire signing keys: %w", err)
		}
		if stored, err = cfg.Store.SigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
	}
	keys := []bookstore.SigningKey{*signer}
	windowEnded := false
	for _, k := range stored {
		switch {
		case k.KID == signer.KID:
		case k.RetiredAt == nil:
			// A rotation by another replica since the retiring above: its
			// key is newer than ours, and NewKeyring lets it sign.
			keys = append(keys, k)
		case now.Sub(*k.RetiredAt) < cfg.retention():
			keys = append(keys, k)
		default:
			windowEnded = true
		}
	}
	if windowEnded {
		if _, err := cfg.Store.DeleteRetiredSigningKeys(ctx, now.Add(-cfg.retention())); err != nil {
			return nil, fmt.Errorf("delete expired signing keys: %w", err)
		}
	}
	return NewKeyring(keys, cfg.retention())
}

func newestLive(keys []bookstore.SigningKey, alg string) *bookstore.SigningKey {
	for i := range keys { // newest first
		if keys[i].Alg == alg && keys[i].RetiredAt == nil {
			return &keys[i]
		}
	}
	return nil
}

// RotateKey makes a new signing key of cfg.Alg and retires the others; they
// keep verifying for cfg.AccessTTL. Keys retired longer ago than that are
// deleted.
func RotateKey(ctx context.Context, cfg KeyConfig, now time.Time) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.Secret != nil {
		return fmt.Errorf("the signing key is BOOKSTORE_JWT_SECRET: rotate it by changing the secret")
	}
	k, err := newKey(cfg.Alg, now)
	if err != nil {
		return err
	}
	if err := cfg.Store.RotateSigningKey(ctx, k, now); err != nil {
		return fmt.Errorf("store the new signing key: %w", err)
	}
	if _, err := cfg.Store.DeleteRetiredSigningKeys(ctx, now.Add(-cfg.retention())); err != nil {
		return fmt.Errorf("delete expired signing keys: %w", err)
	}
	return nil
}

// RevokeKey withdraws the stored key kid at once: it is deleted, so every
// replica drops it at its next reload (within a minute; at once for a
// replica that meets a token of a newer key) and tokens it signed are
// refused from then on. If kid was the live signing key, a new key of
// cfg.Alg takes its place in the same transaction; replaced says so. The
// configured secret is not stored and cannot be revoked: change it.
func RevokeKey(ctx context.Context, cfg KeyConfig, kid string, now time.Time) (replaced bool, err error) {
	if err := cfg.check(); err != nil {
		return false, err
	}
	if cfg.Secret != nil {
		if k, err := HS256KeyFromSecret(cfg.Secret); err == nil && k.KID == kid {
			return false, fmt.Errorf("%s is the key of BOOKSTORE_JWT_SECRET, which is not stored: change the secret to withdraw it", kid)
		}
	}
	successor, err := newKey(cfg.Alg, now)
	if err != nil {
		return false, err
	}
	return cfg.Store.RevokeSigningKey(ctx, kid, successor, now)
}

func newKey(alg string, now time.Time) (bookstore.SigningKey, error) {
	if alg == AlgEdDSA {
		return NewEd25519Key(now)
	}
	return NewHS256Key(now)
}

// KeyReloader keeps AccessTokens in step with the keys in the database, so
// a rotation by any replica (or `bookstore keys rotate`) takes effect
// everywhere: on a schedule, and at once when a token names a key this
// process does not hold yet.
type KeyReloader struct {
	cfg    KeyConfig
	tokens *AccessTokens
	// minInterval spaces reloads triggered by unknown kids, so forged
	// tokens cannot turn into a stream of database reads.
	minInterval time.Duration

	mu     sync.Mutex
	loaded time.Time // monotonic: when the last reload finished
}

func NewKeyReloader(cfg KeyConfig, tokens *AccessTokens) *KeyReloader {
	return &KeyReloader{cfg: cfg, tokens: tokens, minInterval: 250 * time.Millisecond, loaded: time.Now()}
}

// Reload reads the keys and swaps them in.
func (r *KeyReloader) Reload(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(ctx, now)
}

func (r *KeyReloader) reload(ctx context.Context, now time.Time) error {
	kr, err := LoadKeyring(ctx, r.cfg, now)
	if err != nil {
		return err
	}
	r.tokens.SetKeyring(kr)
	r.loaded = time.Now()
	return nil
}

// ReloadForUnknownKey makes sure the keys were read after the caller met an
// unknown kid, so a key made by another replica before that moment is
// found. Callers waiting together share one reload; reloads are at least
// minInterval apart, a wait the caller may have to sit out.
func (r *KeyReloader) ReloadForUnknownKey(ctx context.Context, now time.Time) error {
	arrived := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded.After(arrived) {
		return nil // someone reloaded while we queued
	}
	if wait := r.minInterval - time.Since(r.loaded); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return r.reload(ctx, now)
}
