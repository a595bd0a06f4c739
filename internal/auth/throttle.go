package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// ThrottleLimits says how many events of each kind one key may have in a
// window before further attempts are refused.
type ThrottleLimits struct {
	Window          time.Duration
	LoginPerUserIP  int // failed logins for one username from one client IP
	LoginPerIP      int // failed logins from one client IP, whatever the username
	RefreshPerIP    int // invalid refresh tokens from one client IP
	PasswordPerUser int // wrong current passwords for one user
	RegisterPerIP   int // registrations from one client IP
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
	}
}

// Throttle refuses attempts past their limits, with counters kept in the
// database so replicas and restarts share them. A nil *Throttle allows
// everything (BOOKSTORE_THROTTLE=off).
type Throttle struct {
	store  bookstore.ThrottleStore
	limits ThrottleLimits
}

// NewThrottle checks limits and returns a Throttle over store.
func NewThrottle(store bookstore.ThrottleStore, limits ThrottleLimits) (*Throttle, error) {
	if limits.Window <= 0 {
		return nil, fmt.Errorf("throttle window must be positive, not %s", limits.Window)
	}
	for name, n := range map[string]int{
		"login per user and IP": limits.LoginPerUserIP, "login per IP": limits.LoginPerIP,
		"refresh per IP": limits.RefreshPerIP, "password per user": limits.PasswordPerUser,
		"register per IP": limits.RegisterPerIP,
	} {
		if n < 1 {
			return nil, fmt.Errorf("throttle limit %s must be at least 1, not %d", name, n)
		}
	}
	return &Throttle{store: store, limits: limits}, nil
}

// ThrottleKey is one counter and its limit.
type ThrottleKey struct {
	key    string
	limit  int
	reason string // what was refused, for the client
}

// key hashes its parts so the table holds neither usernames nor addresses
// in clear, and stays small whatever a client sends.
func (t *Throttle) key(kind string, limit int, reason string, parts ...string) ThrottleKey {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return ThrottleKey{key: kind + ":" + hex.EncodeToString(sum[:16]), limit: limit, reason: reason}
}

// LoginKeys are the counters of a failed login: the first alone is cleared
// by a successful one.
func (t *Throttle) LoginKeys(username, ip string) []ThrottleKey {
	if t == nil {
		return nil
	}
	const reason = "too many failed logins"
	return []ThrottleKey{
		t.key("login-user-ip", t.limits.LoginPerUserIP, reason, strings.ToLower(username), ip),
		t.key("login-ip", t.limits.LoginPerIP, reason, ip),
	}
}

// LoginSucceeded clears the failed logins of username from ip; the count
// per IP stays, so one good account cannot launder guesses at others.
func (t *Throttle) LoginSucceeded(ctx context.Context, username, ip string) error {
	if t == nil {
		return nil
	}
	return t.Clear(ctx, t.LoginKeys(username, ip)[:1])
}

func (t *Throttle) RefreshKey(ip string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.key("refresh-ip", t.limits.RefreshPerIP, "too many invalid refresh tokens", ip)}
}

func (t *Throttle) PasswordKey(userID string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.key("password-user", t.limits.PasswordPerUser, "too many wrong current passwords", userID)}
}

func (t *Throttle) RegisterKey(ip string) []ThrottleKey {
	if t == nil {
		return nil
	}
	return []ThrottleKey{t.key("register-ip", t.limits.RegisterPerIP, "too many registrations from your address", ip)}
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

// Allow returns a *ThrottledError if any key has reached its limit.
func (t *Throttle) Allow(ctx context.Context, now time.Time, keys []ThrottleKey) error {
	if t == nil {
		return nil
	}
	for _, k := range keys {
		n, resetAt, err := t.store.ThrottleCount(ctx, k.key, now)
		if err != nil {
			return err
		}
		if n >= k.limit {
			return &ThrottledError{Reason: k.reason, RetryAfter: resetAt.Sub(now)}
		}
	}
	return nil
}

// Hit counts one event on every key.
func (t *Throttle) Hit(ctx context.Context, now time.Time, keys []ThrottleKey) error {
	if t == nil {
		return nil
	}
	for _, k := range keys {
		if _, _, err := t.store.HitThrottle(ctx, k.key, t.limits.Window, now); err != nil {
			return err
		}
	}
	return nil
}

// Clear forgets the counts of keys.
func (t *Throttle) Clear(ctx context.Context, keys []ThrottleKey) error {
	if t == nil {
		return nil
	}
	for _, k := range keys {
		if err := t.store.ClearThrottle(ctx, k.key); err != nil {
			return err
		}
	}
	return nil
}

// Sweep deletes ended windows, so the table holds only live counters.
func (t *Throttle) Sweep(ctx context.Context, now time.Time) (int64, error) {
	if t == nil {
		return 0, nil
	}
	return t.store.SweepThrottle(ctx, now)
}
