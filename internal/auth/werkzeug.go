package auth

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Werkzeug password hashes are what Flask apps store, the tutorial's seed
// app among them: `method$salt$hex`, written by werkzeug.security's
// generate_password_hash and checked by its check_password_hash. Users
// imported from such an app keep them until their first successful login,
// when Verify reports needsRehash and the caller stores an argon2id hash.
//
// The methods understood, exactly as werkzeug computes them (the salt is
// the text between the '$'s, used as its UTF-8 bytes, not decoded):
//
//	scrypt:N:r:p$salt$hex      hashlib.scrypt(password, salt, n=N, r=r, p=p), 64 bytes (werkzeug ≥ 2.3)
//	pbkdf2:HASH:N$salt$hex     hashlib.pbkdf2_hmac(HASH, password, salt, N), the digest's size
//	HASH$salt$hex              hmac.new(salt, password, HASH): werkzeug < 2.3 with method="sha256" etc.,
//	                           as the Flask JWT tutorial registered users
//
// HASH is md5, sha1, sha224, sha256, sha384 or sha512. Werkzeug always
// writes the parameters into the hash, so forms without them (`pbkdf2:sha256$`,
// `scrypt$`, whose defaults changed between werkzeug versions) are refused,
// as are `plain` and unsalted hashes, which no password should have.

// Cost caps for werkzeug hashes, stored or imported: a corrupted or hostile
// row must not make one login run for seconds or allocate hundreds of MiB
// while it holds a hashing slot. They sit at werkzeug 3.1's own defaults
// (pbkdf2:sha256 at 1,000,000 iterations; scrypt N=2^15 r=8 p=1, 32 MiB) or
// just above: pbkdf2 with a 64-bit digest (sha384, sha512) costs about
// three times as much per iteration, so its cap is a third (OWASP asks for
// 210,000); scrypt's work 128·N·r·p (which bounds its memory, 128·N·r)
// may be twice werkzeug's default.
const (
	maxWerkzeugLength        = 512
	maxWerkzeugSalt          = 128
	maxPBKDF2Iterations      = 1_000_000
	maxPBKDF2Iterations64Bit = 350_000
	maxScryptWorkBytes       = 64 << 20 // 128·N·r·p
	maxScryptParallelism     = 4
	werkzeugScryptKeySize    = 64 // hashlib.scrypt's default dklen
)

// werkzeugHash is a parsed werkzeug password hash.
type werkzeugHash struct {
	method     string // "hmac", "pbkdf2" or "scrypt"
	hash       func() hash.Hash
	iterations int // pbkdf2
	n, r, p    int // scrypt
	salt       []byte
	want       []byte
}

// IsWerkzeugHash reports whether stored looks like a werkzeug hash rather
// than one of ours (PHC strings start with '$'). It says nothing about
// whether the hash is well formed: CheckWerkzeugHash does.
func IsWerkzeugHash(stored string) bool {
	return stored != "" && stored[0] != '$'
}

// CheckWerkzeugHash returns nil when stored is a werkzeug hash that Verify
// can check, else an error saying what is wrong with it. Importers call it
// so that an account whose password could never be verified is reported
// rather than imported.
func CheckWerkzeugHash(stored string) error {
	_, err := parseWerkzeug(stored)
	return err
}

func werkzeugDigest(name string) func() hash.Hash {
	switch name {
	case "md5":
		return md5.New
	case "sha1":
		return sha1.New
	case "sha224":
		return sha256.New224
	case "sha256":
		return sha256.New
	case "sha384":
		return sha512.New384
	case "sha512":
		return sha512.New
	}
	return nil
}

func parseWerkzeug(stored string) (werkzeugHash, error) {
	var w werkzeugHash
	if len(stored) > maxWerkzeugLength {
		return w, fmt.Errorf("werkzeug hash: longer than %d bytes", maxWerkzeugLength)
	}
	// check_password_hash splits on the first two '$'; hex never holds one.
	method, rest, ok1 := strings.Cut(stored, "$")
	salt, hexHash, ok2 := strings.Cut(rest, "$")
	if !ok1 || !ok2 {
		return w, errors.New("werkzeug hash: want method$salt$hash")
	}
	if salt == "" {
		return w, errors.New("werkzeug hash: unsalted hashes are not supported")
	}
	if len(salt) > maxWerkzeugSalt {
		return w, fmt.Errorf("werkzeug hash: salt longer than %d bytes", maxWerkzeugSalt)
	}
	// Python's .hex() and hexdigest() write lowercase, and
	// check_password_hash compares the text, so uppercase never matched.
	if hexHash == "" || strings.ToLower(hexHash) != hexHash {
		return w, errors.New("werkzeug hash: the hash is not lowercase hex")
	}
	want, err := hex.DecodeString(hexHash)
	if err != nil {
		return w, errors.New("werkzeug hash: the hash is not lowercase hex")
	}
	w.salt, w.want = []byte(salt), want

	name, args, _ := strings.Cut(method, ":")
	switch name {
	case "pbkdf2":
		hashName, iter, ok := strings.Cut(args, ":")
		if !ok || strings.Contains(iter, ":") {
			return w, errors.New("werkzeug hash: want pbkdf2:HASH:ITERATIONS")
		}
		if w.hash = werkzeugDigest(hashName); w.hash == nil {
			return w, fmt.Errorf("werkzeug hash: unsupported pbkdf2 hash %q", hashName)
		}
		if w.iterations, err = werkzeugInt(iter, 1, math.MaxInt32); err != nil {
			return w, fmt.Errorf("werkzeug hash: pbkdf2 iterations: %w", err)
		}
		limit := maxPBKDF2Iterations
		if hashName == "sha384" || hashName == "sha512" {
			limit = maxPBKDF2Iterations64Bit
		}
		if w.iterations > limit {
			return w, fmt.Errorf("werkzeug hash: %w: pbkdf2:%s at %d iterations, at most %d", ErrHashOverCostCaps, hashName, w.iterations, limit)
		}
		if len(want) != w.hash().Size() {
			return w, errors.New("werkzeug hash: the hash has the wrong length for its method")
		}
		w.method = "pbkdf2"
	case "scrypt":
		parts := strings.Split(args, ":")
		if len(parts) != 3 {
			return w, errors.New("werkzeug hash: want scrypt:N:r:p")
		}
		if w.n, err = werkzeugInt(parts[0], 2, 1<<30); err != nil || w.n&(w.n-1) != 0 {
			return w, errors.New("werkzeug hash: scrypt N must be a power of two from 2 to 2^30")
		}
		if w.r, err = werkzeugInt(parts[1], 1, 1<<20); err != nil {
			return w, fmt.Errorf("werkzeug hash: scrypt r: %w", err)
		}
		if w.p, err = werkzeugInt(parts[2], 1, 1<<20); err != nil {
			return w, fmt.Errorf("werkzeug hash: scrypt p: %w", err)
		}
		// Each factor is at most 2^30, so the products cannot overflow
		// an int64 before the comparison.
		if w.p > maxScryptParallelism {
			return w, fmt.Errorf("werkzeug hash: %w: scrypt p=%d, at most %d", ErrHashOverCostCaps, w.p, maxScryptParallelism)
		}
		if work := int64(128) * int64(w.n) * int64(w.r) * int64(w.p); work > maxScryptWorkBytes {
			return w, fmt.Errorf("werkzeug hash: %w: scrypt N=%d r=%d p=%d works through %d MiB, at most %d",
				ErrHashOverCostCaps, w.n, w.r, w.p, work>>20, maxScryptWorkBytes>>20)
		}
		if len(want) != werkzeugScryptKeySize {
			return w, errors.New("werkzeug hash: the hash has the wrong length for its method")
		}
		w.method = "scrypt"
	default:
		if args != "" {
			return w, fmt.Errorf("werkzeug hash: unsupported method %q", method)
		}
		if w.hash = werkzeugDigest(name); w.hash == nil {
			return w, fmt.Errorf("werkzeug hash: unsupported method %q", method)
		}
		if len(want) != w.hash().Size() {
			return w, errors.New("werkzeug hash: the hash has the wrong length for its method")
		}
		w.method = "hmac"
	}
	return w, nil
}

// werkzeugInt parses a decimal in [lo, hi]: digits only, as werkzeug writes.
func werkzeugInt(s string, lo, hi int) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s is out of range [%d, %d]", s, lo, hi)
	}
	return n, nil
}

// verifyWerkzeug checks password against a werkzeug hash in constant time,
// in a hashing slot like any argon2 derivation, padded to an argon2id
// check's cost.
func (h *Hasher) verifyWerkzeug(ctx context.Context, stored, password string) (bool, error) {
	w, err := parseWerkzeug(stored)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnusableHash, err)
	}
	if len(password) > maxPasswordLen {
		return false, nil
	}
	release, err := h.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	h.computed.Add(1) // not in the cost estimate: legacy costs vary too much
	var got []byte
	switch w.method {
	case "hmac":
		mac := hmac.New(w.hash, w.salt)
		mac.Write([]byte(password))
		got = mac.Sum(nil)
	case "pbkdf2":
		if got, err = pbkdf2.Key(w.hash, password, w.salt, w.iterations, len(w.want)); err != nil {
			return false, fmt.Errorf("pbkdf2: %w", err)
		}
	case "scrypt":
		if got, err = scrypt.Key([]byte(password), w.salt, w.n, w.r, w.p, werkzeugScryptKeySize); err != nil {
			return false, fmt.Errorf("scrypt: %w", err)
		}
	}
	// Pad to the cost of an argon2id check: the legacy methods are far
	// cheaper (an HMAC takes microseconds), and a wrong password must take
	// as long for an imported account as for any other or for an unknown
	// username, or timing would single out exactly the accounts whose
	// passwords never met the policy. The padding is the same derivation
	// VerifyDummy runs, with the current parameters.
	p := h.params
	h.kdf([]byte(password), make([]byte, p.SaltLength), p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return subtle.ConstantTimeCompare(got, w.want) == 1, nil
}
