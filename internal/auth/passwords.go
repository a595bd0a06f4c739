package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/argon2"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Argon2Params are the argon2id cost parameters written into every PHC
// string. Memory is in KiB.
type Argon2Params struct {
	Memory      uint32 // m, KiB
	Iterations  uint32 // t
	Parallelism uint8  // p
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultArgon2Params returns the OWASP Password Storage Cheat Sheet's
// argon2id baseline: 19 MiB, two passes, one lane. It is a function, not a
// variable, so nobody can change the defaults of the whole process.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Bounds on parameters, for NewHasher and for every stored PHC string. A
// corrupted or hostile row must not make one Verify allocate gigabytes or
// loop for seconds while it holds one of the few hashing slots. The cost
// caps sit near what current libraries write by default (argon2-cffi and
// node-argon2: 64 MiB, t=3, p=4; PHP: 64 MiB, t=4; OWASP's baseline:
// 19 MiB, t=2): the costliest hash allowed takes about 7 times the default's
// time.
const (
	maxMemoryKiB   = 64 << 10 // 64 MiB
	maxIterations  = 4
	maxParallelism = 8
	minSaltLength  = 8 // the argon2 specification's minimum
	maxSaltLength  = 64
	minKeyLength   = 16
	maxKeyLength   = 64
	maxPHCLength   = 256  // well above the longest string these bounds allow
	maxPasswordLen = 4096 // bytes; the policy allows 128 code points, 512 bytes at most
)

// ErrHashOverCostCaps is in the chain of the error for a hash whose
// parameters (argon2id memory or passes, pbkdf2 iterations, scrypt N, r, p
// or memory) are over the caps: it is refused without being computed.
var ErrHashOverCostCaps = errors.New("the password hash's cost parameters are over the caps")

// ErrUnusableHash is in the chain of Verify's error when the stored hash
// cannot be checked: malformed, or over the cost caps. The stored data is
// broken, not the caller's input; the login fails closed.
var ErrUnusableHash = errors.New("the stored password hash cannot be verified")

func (p Argon2Params) validate() error {
	switch {
	case p.Iterations < 1:
		return errors.New("argon2 iterations must be at least 1")
	case p.Iterations > maxIterations:
		return fmt.Errorf("%w: argon2 passes %d, at most %d", ErrHashOverCostCaps, p.Iterations, maxIterations)
	case p.Parallelism < 1:
		return errors.New("argon2 parallelism must be at least 1")
	case p.Parallelism > maxParallelism:
		return fmt.Errorf("%w: argon2 parallelism %d, at most %d", ErrHashOverCostCaps, p.Parallelism, maxParallelism)
	case p.Memory > maxMemoryKiB:
		return fmt.Errorf("%w: argon2 memory %d KiB, at most %d", ErrHashOverCostCaps, p.Memory, maxMemoryKiB)
	case p.Memory < 8*uint32(p.Parallelism):
		// argon2 needs 8 KiB per lane; x/crypto would silently raise it.
		return fmt.Errorf("argon2 memory %d KiB below %d (8 per lane)", p.Memory, 8*uint32(p.Parallelism))
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("argon2 salt length %d out of range [%d, %d]", p.SaltLength, minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("argon2 key length %d out of range [%d, %d]", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}

// kdf is the key derivation function, argon2.IDKey in production. It is a
// field so tests can count concurrent calls (see export_test.go).
type kdf func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hasher hashes and verifies passwords with argon2id. Each hash takes
// Params.Memory of RAM and tens of milliseconds of CPU, so a semaphore bounds
// how many run at once: a burst of logins queues instead of exhausting
// memory. The queue is bounded too, by the wait it promises: a hash that
// would wait longer than the queue's limit is refused at once with an
// *OverloadedError, so a flood gets "come back later" instead of every
// caller, legitimate ones included, waiting for seconds. It is safe for
// concurrent use.
type Hasher struct {
	params  Argon2Params
	sem     chan struct{}
	kdf     kdf
	dummy   string // a PHC string no password matches, for VerifyDummy
	maxWait time.Duration
	tracer  trace.Tracer // nil: not traced (see TraceWith)

	queued   atomic.Int64  // callers waiting for a slot
	cost     atomic.Int64  // nanoseconds one hash takes, a moving average
	computed atomic.Uint64 // hashes run, for tests and metrics
}

// DefaultMaxQueueWait is how much hashing work may queue for the slots
// before further hashes are refused: about two seconds, long enough to ride
// out a burst, short enough that a client is better off told to retry.
const DefaultMaxQueueWait = 2 * time.Second

// HasherOption changes a Hasher that NewHasher makes.
type HasherOption func(*Hasher)

// MaxQueueWait bounds the queue for the hashing slots by expected wait: a
// hash is refused at once when the hashes already waiting, shared among the
// slots, would take longer than d (DefaultMaxQueueWait unless set).
func MaxQueueWait(d time.Duration) HasherOption {
	return func(h *Hasher) { h.maxWait = d }
}

// NewHasher returns a Hasher that writes params into new hashes and runs at
// most maxConcurrent hashes at a time (runtime.NumCPU() when maxConcurrent <=
// 0). It computes one hash, for VerifyDummy, which is also the first
// estimate of what a hash costs.
func NewHasher(params Argon2Params, maxConcurrent int, opts ...HasherOption) (*Hasher, error) {
	if err := params.validate(); err != nil {
		return nil, err
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	h := &Hasher{params: params, sem: make(chan struct{}, maxConcurrent), kdf: argon2.IDKey, maxWait: DefaultMaxQueueWait}
	for _, o := range opts {
		o(h)
	}
	if h.maxWait <= 0 {
		return nil, fmt.Errorf("the hashing queue's wait must be positive, not %s", h.maxWait)
	}
	// The dummy hashes a random password: nothing can match it, and it costs
	// exactly what a current user's hash costs.
	dummy, err := h.Hash(context.Background(), rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Computed is how many hashes (argon2id and legacy alike) the Hasher has
// run: the work that throttles and admission control limit.
func (h *Hasher) Computed() uint64 { return h.computed.Load() }

// OverloadedError refuses a hash because the queue for the hashing slots is
// full; RetryAfter is about when it will have drained.
type OverloadedError struct {
	RetryAfter time.Duration
}

func (e *OverloadedError) Error() string {
	return fmt.Sprintf("too many password checks are waiting; try again in %d seconds", e.Seconds())
}

func (e *OverloadedError) Unwrap() error { return bookstore.ErrUnavailable }

// Seconds is RetryAfter rounded up, at least 1: the Retry-After value.
func (e *OverloadedError) Seconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// Acquire takes a hashing slot, waiting in the queue for one, and returns
// the function that gives it back. Every hash runs inside it; a caller may
// also hold a slot to keep hashes out (tests fill the slots this way). If
// the hashes already queued would take longer than the queue's limit, it
// returns an *OverloadedError at once; if ctx ends first, ctx's error.
func (h *Hasher) Acquire(ctx context.Context) (release func(), err error) {
	// Checked first: select picks at random when both cases are ready, and a
	// cancelled request must not start a 50 ms hash.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}: // a free slot: no queue to judge
		return func() { <-h.sem }, nil
	default:
	}
	ahead := h.queued.Add(1) - 1
	defer h.queued.Add(-1)
	// Every slot is busy: this hash waits for the ones ahead of it, and for
	// a running one, spread over the slots.
	wait := time.Duration(ahead+1) * time.Duration(h.cost.Load()) / time.Duration(cap(h.sem))
	if wait > h.maxWait {
		return nil, &OverloadedError{RetryAfter: wait}
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// measured runs one hash in a slot, counts it and feeds its duration into
// the cost estimate the queue is judged by.
func (h *Hasher) measured(ctx context.Context, hash func()) error {
	release, err := h.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	hash()
	took := int64(time.Since(start))
	// An exponential moving average over about eight hashes; a lost update
	// between concurrent hashes only delays the estimate.
	if old := h.cost.Load(); old == 0 {
		h.cost.Store(took)
	} else {
		h.cost.Store(old + (took-old)/8)
	}
	h.computed.Add(1)
	return nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Argon2Params { return h.params }

// Hash returns the PHC string of password with a fresh random salt, in the
// format of the reference implementation:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (standard base64, no padding).
// It waits for a free slot and returns ctx's error if ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	return h.hashAsIs(ctx, NormalizePassword(password))
}

// hashAsIs is Hash without normalising password.
func (h *Hasher) hashAsIs(ctx context.Context, password string) (string, error) {
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("password of %d bytes is longer than %d", len(password), maxPasswordLen)
	}
	p := h.params
	salt := make([]byte, p.SaltLength)
	rand.Read(salt) // never returns an error; it crashes the program instead
	key, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string phc, comparing in
// constant time. The password is normalised as Hash normalises it; a hash
// made before passwords were normalised matches the password as typed, and
// then needsRehash is true, so the login stores the normalised form and the
// fallback is needed once. needsRehash is also true is true when password matched but phc was made
// with other parameters than the Hasher's: the caller should store a new
// Hash while it has the plain password. A malformed phc is an error (the
// stored data is broken; it is not the user's fault). A werkzeug hash (an
// account imported from the Flask app, see werkzeug.go) is checked the way
// werkzeug checks it and always needs a rehash.
func (h *Hasher) Verify(ctx context.Context, phc, password string) (ok, needsRehash bool, err error) {
	normal := NormalizePassword(password)
	ok, needsRehash, err = h.verifyAsIs(ctx, phc, normal)
	if ok || err != nil || normal == password {
		return ok, needsRehash, err
	}
	ok, _, err = h.verifyAsIs(ctx, phc, password)
	return ok, ok, err
}

// verifyAsIs is Verify without normalising password.
func (h *Hasher) verifyAsIs(ctx context.Context, phc, password string) (ok, needsRehash bool, err error) {
	if IsWerkzeugHash(phc) {
		ok, err := h.verifyWerkzeug(ctx, phc, password)
		return ok, ok, err
	}
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, fmt.Errorf("%w: %w", ErrUnusableHash, err)
	}
	if len(password) > maxPasswordLen {
		return false, false, nil // no policy-approved password is that long
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify against a hash no password matches
// and always reports false. Call it when the username is unknown, so that
// "no such user" takes as long as "wrong password" and response times do
// not reveal which usernames exist.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) (ok bool, err error) {
	_, _, err = h.Verify(ctx, h.dummy, password)
	return false, err
}

// derive runs the KDF in a hashing slot.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Argon2Params) ([]byte, error) {
	var key []byte
	err := h.measured(ctx, func() {
		defer h.traceHash(ctx, p)()
		key = h.kdf([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	})
	return key, err
}

// parsePHC parses $argon2id$v=19$m=M,t=T,p=P$SALT$HASH strictly: one
// algorithm, one version, parameters in the reference order, canonical
// unpadded base64, every number bounded. It never panics on any input.
func parsePHC(phc string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	if len(phc) > maxPHCLength {
		return p, nil, nil, fmt.Errorf("malformed password hash: longer than %d bytes", maxPHCLength)
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, errors.New("malformed password hash: want 6 '$'-separated fields")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, errors.New("malformed password hash: algorithm is not argon2id")
	}
	if parts[2] != "v=19" {
		return p, nil, nil, errors.New("malformed password hash: version is not 19")
	}
	m, t, par, err := parseArgon2Numbers(parts[3])
	if err != nil {
		return p, nil, nil, fmt.Errorf("malformed password hash: %w", err)
	}
	if par > 255 {
		return p, nil, nil, fmt.Errorf("malformed password hash: parallelism %d out of range [1, 255]", par)
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("malformed password hash: salt: %w", err)
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("malformed password hash: hash: %w", err)
	}
	p = Argon2Params{Memory: m, Iterations: t, Parallelism: uint8(par),
		SaltLength: uint32(len(salt)), KeyLength: uint32(len(key))}
	if err := p.validate(); err != nil {
		return p, nil, nil, fmt.Errorf("malformed password hash: %w", err)
	}
	return p, salt, key, nil
}

// parseArgon2Numbers parses "m=M,t=T,p=P" (the order the reference
// implementation writes). ParseUint rejects signs, spaces and overflow.
func parseArgon2Numbers(s string) (m, t, p uint32, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, errors.New("want parameters m,t,p")
	}
	out := [3]uint32{}
	for i, name := range [3]string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return 0, 0, 0, fmt.Errorf("want parameter %q at position %d", name[:1], i+1)
		}
		n, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("parameter %q is not a 32-bit number", name[:1])
		}
		out[i] = uint32(n)
	}
	return out[0], out[1], out[2], nil
}
