package auth

import "context"

// KDF is the signature of argon2.IDKey.
type KDF = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// WrapKDF replaces the Hasher's key derivation function with wrap(current),
// so tests can count, hold up or skip the hashes it runs.
func WrapKDF(h *Hasher, wrap func(KDF) KDF) { h.kdf = wrap(h.kdf) }

// HashAsIs hashes password without normalising it, as hashes were made
// before passwords were normalised.
func HashAsIs(h *Hasher, password string) (string, error) {
	return h.hashAsIs(context.Background(), password)
}
