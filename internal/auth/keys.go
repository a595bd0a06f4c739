package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// The JWT algorithms a Keyring accepts. HS256 is the simple default (one
// process signs and verifies); EdDSA lets other services verify with the
// public keys of JWKS.
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
)

// minHS256SecretLength is RFC 7518 §3.2: an HS256 key must be at least as
// long as the hash output.
const minHS256SecretLength = 32

// JWK is one public key of a JSON Web Key Set (RFC 7517, RFC 8037 for OKP).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ringKey is a SigningKey ready for jwt/v5: the method and the key values it
// expects, prepared once rather than on every token.
type ringKey struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	sign   any // []byte for HMAC, ed25519.PrivateKey for EdDSA
	verify any // []byte for HMAC, ed25519.PublicKey for EdDSA
	// verifiesUntil is when a retired key stops verifying (zero for a live
	// key). It is checked on every token, so a key leaves on time however
	// long ago the keyring was loaded.
	verifiesUntil time.Time
	jwk           *JWK // the public key of an EdDSA key, nil for HS256
}

// Keyring holds the JWT signing keys. The newest key that is not retired
// signs; every key, retired ones included, verifies the tokens that name it
// by kid, so tokens signed before a rotation stay valid until they expire.
// A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	signer *ringKey
	byKID  map[string]*ringKey
	order  []*ringKey // as given, for a stable JWKS
	algs   []string   // the algorithms of the keys held, the only ones Verify accepts
}

// NewKeyring checks keys and builds a Keyring. It needs at least one key
// that is not retired; kids must be unique and non-empty; HS256 secrets
// must be at least 32 bytes and EdDSA secrets 32-byte Ed25519 seeds. A
// retired key verifies (and is published) until retention after its
// RetiredAt: the tokens it signed live that long at most.
func NewKeyring(keys []bookstore.SigningKey, retention time.Duration) (*Keyring, error) {
	kr := &Keyring{byKID: make(map[string]*ringKey, len(keys))}
	var newest time.Time
	for _, k := range keys {
		if k.KID == "" || len(k.KID) > 128 {
			return nil, errors.New("signing key: kid must have 1 to 128 bytes")
		}
		if _, dup := kr.byKID[k.KID]; dup {
			return nil, fmt.Errorf("signing key %q: duplicate kid", k.KID)
		}
		rk := &ringKey{kid: k.KID, alg: k.Alg}
		switch k.Alg {
		case AlgHS256:
			if len(k.Secret) < minHS256SecretLength {
				return nil, fmt.Errorf("signing key %q: HS256 secret has %d bytes, want at least %d", k.KID, len(k.Secret), minHS256SecretLength)
			}
			secret := slices.Clone(k.Secret) // the caller may reuse its slice
			rk.method, rk.sign, rk.verify = jwt.SigningMethodHS256, secret, secret
		case AlgEdDSA:
			if len(k.Secret) != ed25519.SeedSize {
				return nil, fmt.Errorf("signing key %q: EdDSA secret has %d bytes, want a %d-byte Ed25519 seed", k.KID, len(k.Secret), ed25519.SeedSize)
			}
			priv := ed25519.NewKeyFromSeed(k.Secret)
			pub := priv.Public().(ed25519.PublicKey)
			rk.method, rk.sign, rk.verify = jwt.SigningMethodEdDSA, priv, pub
			rk.jwk = &JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
				KID: k.KID, Alg: AlgEdDSA, Use: "sig"}
		default:
			return nil, fmt.Errorf("signing key %q: unsupported algorithm %q", k.KID, k.Alg)
		}
		if k.RetiredAt != nil {
			rk.verifiesUntil = k.RetiredAt.Add(retention)
		}
		kr.byKID[k.KID] = rk
		kr.order = append(kr.order, rk)
		if !slices.Contains(kr.algs, k.Alg) {
			kr.algs = append(kr.algs, k.Alg)
		}
		// Strictly newer wins, so among equal times the first listed
		// (KeyStore lists newest first) signs.
		if k.RetiredAt == nil && (kr.signer == nil || k.CreatedAt.After(newest)) {
			kr.signer, newest = rk, k.CreatedAt
		}
	}
	if kr.signer == nil {
		return nil, errors.New("no signing key that is not retired")
	}
	return kr, nil
}

// SigningKID returns the kid of the key that signs new tokens.
func (kr *Keyring) SigningKID() string { return kr.signer.kid }

// JWKS returns the public keys, for GET /.well-known/jwks.json: every EdDSA
// key that verifies at now, retired ones included until their window ends.
// It is empty when the keyring holds only HS256 keys, whose secrets are
// never published. The slice is never nil, so it encodes as [] rather than
// null.
func (kr *Keyring) JWKS(now time.Time) []JWK {
	out := []JWK{}
	for _, k := range kr.order {
		if k.jwk != nil && k.verifiesAt(now) {
			out = append(out, *k.jwk)
		}
	}
	return out
}

// verifiesAt reports whether the key still verifies tokens at now.
func (k *ringKey) verifiesAt(now time.Time) bool {
	return k.verifiesUntil.IsZero() || now.Before(k.verifiesUntil)
}

// NewHS256Key returns a new random 256-bit HS256 key created at now.
func NewHS256Key(now time.Time) (bookstore.SigningKey, error) {
	secret := make([]byte, 32)
	rand.Read(secret) // never returns an error; it crashes the program instead
	k, err := HS256KeyFromSecret(secret)
	k.CreatedAt = now
	return k, err
}

// HS256KeyFromSecret makes an HS256 key of a configured secret (at least 32
// bytes). Its kid is derived from the secret, so the same configuration
// names the same key on every instance and after restarts.
func HS256KeyFromSecret(secret []byte) (bookstore.SigningKey, error) {
	if len(secret) < minHS256SecretLength {
		return bookstore.SigningKey{}, fmt.Errorf("HS256 secret has %d bytes, want at least %d", len(secret), minHS256SecretLength)
	}
	// 64 bits of a domain-separated SHA-256: enough to tell keys apart, and
	// no help to an attacker. Anyone holding a token can already test
	// guesses of the secret offline against its HMAC; the kid adds nothing.
	sum := sha256.Sum256(append([]byte("bookstore hs256 kid\x00"), secret...))
	return bookstore.SigningKey{KID: "hs256-" + hex.EncodeToString(sum[:8]), Alg: AlgHS256, Secret: slices.Clone(secret)}, nil
}

// NewEd25519Key returns a new random Ed25519 key created at now. Its kid is
// the RFC 7638 JWK thumbprint of the public key, which any JWKS client can
// recompute.
func NewEd25519Key(now time.Time) (bookstore.SigningKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed) // never returns an error; it crashes the program instead
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	// RFC 7638: SHA-256 of the required members in lexicographic order, no spaces.
	thumb := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return bookstore.SigningKey{KID: base64.RawURLEncoding.EncodeToString(thumb[:]), Alg: AlgEdDSA, Secret: seed, CreatedAt: now}, nil
}
