package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// ThrottleLimits say how many events of each kind one key may have in a
// window before further attempts are refused, and how addresses are grouped
// into keys.
type ThrottleLimits struct {
	Window          time.Duration
	LoginPerUserIP  int // failed logins for one username from one client network
	LoginPerIP      int // failed logins from one client network, whatever the username
	RefreshPerIP    int // invalid refresh tokens from one client network
	PasswordPerUser int // wrong current passwords for one user
	RegisterPerIP   int // registration attempts from one client network

	// LoginPerAccount bounds failed logins for one username from all
	// networks together in AccountWindow (OWASP ASVS 4.0.3 V2.2.1). While it
	// is reached, a network that logged into the account in the last
	// KnownAddressTTL still gets its per-network allowance, so guessing from
	// elsewhere cannot lock the owner out.
	LoginPerAccount int
	AccountWindow   time.Duration
	KnownAddressTTL time.Duration

	// IPv4Prefix and IPv6Prefix are the leading bits of a client address
	// that name its network for every per-address limit: one IPv6 host
	// usually holds a whole /64.
	IPv4Prefix, IPv6Prefix int
}

// DefaultThrottleLimits are the limits of the contract. Registrations are
// generous: many people may share one address (an office, a NAT).
func DefaultThrottleLimits() ThrottleLimits {
	return ThrottleLimits{
		Window:          15 * time.Minute,
		LoginPerUserIP:  10,
		LoginPerIP:      100,
		RefreshPerIP:    100,
		PasswordPerUser: 10,
		RegisterPerIP:   200,
		LoginPerAccount: 100,
		AccountWindow:   time.Hour,
		KnownAddressTTL: 30 * 24 * time.Hour,
		IPv4Prefix:      32,
		IPv6Prefix:      64,
	}
}

// Throttle refuses attempts past their limits, with counters kept in the
// database so replicas and restarts share them. Every attempt takes its slot
// before the work it limits (a password hash, a lookup), in one atomic step,
// so requests that arrive together cannot all pass a check made before any
// of them counted. A nil *Throttle allows everything (BOOKSTORE_THROTTLE=off).
type Throttle struct {
	store  bookstore.ThrottleStore
	limits ThrottleLimits
}

// NewThrottle checks limits and returns a Throttle over store.
func NewThrottle(store bookstore.ThrottleStore, limits ThrottleLimits) (*Throttle, error) {
	for name, d := range map[string]time.Duration{
		"window": limits.Window, "account window": limits.AccountWindow, "known address lifetime": limits.KnownAddressTTL,
	} {
		if d <= 0 {
			return nil, fmt.Errorf("throttle %s must be positive, not %s", name, d)
		}
	}
	for name, n := range map[string]int{
		"login per user and IP": limits.LoginPerUserIP, "login per IP": limits.LoginPerIP,
		"login per account": limits.LoginPerAccount,
		"refresh per IP":    limits.RefreshPerIP, "password per user": limits.PasswordPerUser,
		"register per IP": limits.RegisterPerIP,
	} {
		if n < 1 {
			return nil, fmt.Errorf("throttle limit %s must be at least 1, not %d", name, n)
		}
	}
	if limits.IPv4Prefix < 1 || limits.IPv4Prefix > 32 {
		return nil, fmt.Errorf("throttle IPv4 prefix must be 1 to 32 bits, not %d", limits.IPv4Prefix)
	}
	if limits.IPv6Prefix < 1 || limits.IPv6Prefix > 128 {
		return nil, fmt.Errorf("throttle IPv6 prefix must be 1 to 128 bits, not %d", limits.IPv6Prefix)
	}
	return &Throttle{store: store, limits: limits}, nil
}

// ThrottleKey is one counter, its limit and its window.
type ThrottleKey struct {
	key    string
	limit  int
	window time.Duration
	reason string // what was refused, for the client
}

// key hashes its parts so the table holds neither usernames nor addresses
// in clear, and stays small whatever a client sends.
func key(kind string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

func (t *Throttle) counter(kind string, limit int, reason string, parts ...string) ThrottleKey {
	return ThrottleKey{key: key(kind, parts...), limit: limit, window: t.limits.Window, reason: reason}
}

// network is the client network ip belongs to: its leading IPv4Prefix or
// IPv6Prefix bits. Every per-address limit counts by network, so the 2^64
// addresses of one IPv6 /64 share one counter.
func (t *Throttle) network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip // not an address (a test's pipe): count it as it is
	}
	a = a.Unmap()
	bits := t.limits.IPv6Prefix
	if a.Is4() {
		bits = t.limits.IPv4Prefix
	}
	p, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return ip
	}
	return p.String()
}

const loginRefused = "too many failed logins"

// loginKeys are the per-network counters of a login: the first, for the
// username, is cleared by a successful one.
func (t *Throttle) loginKeys(username, network string) []ThrottleKey {
	return []ThrottleKey{
		t.counter("login-user-ip", t.limits.LoginPerUserIP, loginRefused, strings.ToLower(username), network),
		t.counter("login-ip", t.limits.LoginPerIP, loginRefused, network),
	}
}

func (t *Throttle) accountKey(username string) ThrottleKey {
	return ThrottleKey{
		key: key("login-account", strings.ToLower(username)), limit: t.limits.LoginPerAccount,
		window: t.limits.AccountWindow, reason: loginRefused + " for this account",
	}
}

func knownAddressKey(username, network string) string {
	return key("login-address", strings.ToLower(username), network)
}

// LoginSlots are the slots one login attempt took.
type LoginSlots []ThrottleKey

// TakeLogin takes a login attempt's slots before its password is checked:
// one per username and network, one per network, and one per account. When
// the account's limit (all networks together) is reached, a network that
// logged into it recently goes on with its own allowance; any other gets a
// *ThrottledError.
func (t *Throttle) TakeLogin(ctx context.Context, now time.Time, username, ip string) (LoginSlots, error) {
	if t == nil {
		return nil, nil
	}
	network := t.network(ip)
	taken, err := t.Take(ctx, now, t.loginKeys(username, network))
	if err != nil {
		return nil, err
	}
	account := t.accountKey(username)
	err = t.take(ctx, now, account)
	if err == nil {
		return append(taken, account), nil
	}
	if errors.Is(err, bookstore.ErrThrottled) {
		known, kerr := t.store.IsLoginAddress(ctx, knownAddressKey(username, network), now)
		if kerr == nil && known {
			return taken, nil
		}
		if kerr != nil {
			err = kerr
		}
	}
	if rerr := t.Refund(ctx, now, taken); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return nil, err
}

// LoginSucceeded settles a login that was right: it clears the failures of
// username from the client's network, gives back the per-network and
// per-account slots the attempt took (a success is not a failure, but it
// does not launder earlier guesses at other accounts either), and
// remembers the network as one that logs into this account.
func (t *Throttle) LoginSucceeded(ctx context.Context, now time.Time, username, ip string, slots LoginSlots) error {
	if t == nil {
		return nil
	}
	if len(slots) > 0 {
		if err := t.store.ClearThrottle(ctx, slots[0].key); err != nil {
			return err
		}
		if err := t.Refund(ctx, now, slots[1:]); err != nil {
			return err
		}
	}
	network := t.network(ip)
	return t.store.RememberLoginAddress(ctx, knownAddressKey(username, network), now.Add(t.limits.KnownAddressTTL))
}

// RefreshKey counts refresh tokens (and logouts by refresh token) per
// client network.
func (t *Throttle) RefreshKey(ip string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.counter("refresh-ip", t.limits.RefreshPerIP, "too many invalid refresh tokens", t.network(ip))}
}

// PasswordKey counts current-password checks per user.
func (t *Throttle) PasswordKey(userID string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.counter("password-user", t.limits.PasswordPerUser, "too many wrong current passwords", userID)}
}

// RegisterKey counts registration attempts per client network.
func (t *Throttle) RegisterKey(ip string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.counter("register-ip", t.limits.RegisterPerIP, "too many registrations from your address", t.network(ip))}
}

// ThrottledError refuses an attempt until RetryAfter has passed.
type ThrottledError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s; try again in %d seconds", e.Reason, e.Seconds())
}

func (e *ThrottledError) Unwrap() error { return bookstore.ErrThrottled }

// Seconds is RetryAfter rounded up, at least 1: the Retry-After value.
func (e *ThrottledError) Seconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

func (t *Throttle) take(ctx context.Context, now time.Time, k ThrottleKey) error {
	ok, resetAt, err := t.store.TakeThrottle(ctx, k.key, k.limit, k.window, now)
	if err != nil {
		return err
	}
	if !ok {
		return &ThrottledError{Reason: k.reason, RetryAfter: resetAt.Sub(now)}
	}
	return nil
}

// Take takes one slot of every key, in order, before the work they limit.
// If a key is full it gives back the slots already taken and returns a
// *ThrottledError. It returns the keys taken, to Refund if the attempt
// turns out not to count.
func (t *Throttle) Take(ctx context.Context, now time.Time, keys []ThrottleKey) ([]ThrottleKey, error) {
	if t == nil {
		return nil, nil
	}
	for i, k := range keys {
		if err := t.take(ctx, now, k); err != nil {
			if rerr := t.Refund(ctx, now, keys[:i]); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, err
		}
	}
	return keys, nil
}

// Refund gives back one slot of every key: the attempt did not fail.
func (t *Throttle) Refund(ctx context.Context, now time.Time, keys []ThrottleKey) error {
	if t == nil {
		return nil
	}
	for _, k := range keys {
		if err := t.store.RefundThrottle(ctx, k.key, now); err != nil {
			return err
		}
	}
	return nil
}

// Sweep deletes ended windows and expired login addresses, so the tables
// hold only live rows.
func (t *Throttle) Sweep(ctx context.Context, now time.Time) (int64, error) {
	if t == nil {
		return 0, nil
	}
	return t.store.SweepThrottle(ctx, now)
}
