package auth

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Defaults of AccessTokenConfig.
const (
	DefaultIssuer    = "bookstore"
	DefaultAudience  = "bookstore-api"
	DefaultAccessTTL = 15 * time.Minute
)

const (
	// accessTokenType is the typ header of RFC 9068 access tokens. Checking
	// it stops any other JWT signed with the same key (an ID token, a
	// future token kind) from being accepted as an access token.
	accessTokenType = "at+jwt"

	// maxAccessTokenLength bounds the input before any decoding. Our tokens
	// are about 400 bytes; a 100 KB one is rejected by one comparison.
	maxAccessTokenLength = 8 << 10

	// maxAccessTTL keeps a misconfiguration from minting day-long tokens
	// that outlive a logout by a day.
	maxAccessTTL = 24 * time.Hour

	// clockLeeway absorbs clock skew between the instances that issue and
	// verify tokens (NTP keeps them within milliseconds; 5 s covers a badly
	// synced one) without noticeably extending a 15-minute token. It applies
	// to exp, nbf and iat.
	clockLeeway = 5 * time.Second
)

// AccessTokenConfig configures AccessTokens. Zero fields take the defaults
// above; Now defaults to time.Now.
type AccessTokenConfig struct {
	Issuer    string
	Audience  string
	AccessTTL time.Duration
	Keyring   *Keyring
	Now       func() time.Time
}

// AccessClaims is what a valid access token says.
type AccessClaims struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	ExpiresAt time.Time
	// AuthTime is when the password login behind the session happened
	// (RFC 9470 auth_time); zero when the token has none.
	AuthTime time.Time
}

// AccessTokens issues and verifies short-lived JWT access tokens. A token
// proves who the caller is and which session it belongs to; whether that
// session is still live is the store's question, asked on every request.
// It is safe for concurrent use.
type AccessTokens struct {
	issuer, audience string
	ttl              time.Duration
	now              func() time.Time
	keys             atomic.Pointer[tokenKeys] // swapped whole when keys rotate
}

// tokenKeys is a keyring with the parser built for its algorithms, so a
// rotation replaces both at once and Verify never mixes two generations.
type tokenKeys struct {
	keyring *Keyring
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc // bound once so Verify does not allocate it
}

// ErrUnknownKey is in the chain of Verify's error when the token names a
// key this keyring does not hold: perhaps one another replica just made.
var ErrUnknownKey = errors.New("kid names no key of the token's algorithm")

// errKeyWindowEnded is Verify's reason when the token names a retired key
// whose window has ended. It is not ErrUnknownKey: reloading would not
// bring the key back.
var errKeyWindowEnded = errors.New("kid names a retired key that no longer verifies")

// NewAccessTokens checks cfg and returns AccessTokens.
func NewAccessTokens(cfg AccessTokenConfig) (*AccessTokens, error) {
	if cfg.Keyring == nil {
		return nil, errors.New("access tokens: no keyring")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AccessTTL < time.Second || cfg.AccessTTL > maxAccessTTL {
		return nil, fmt.Errorf("access tokens: TTL %v out of range [1s, %v]", cfg.AccessTTL, maxAccessTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &AccessTokens{issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.AccessTTL, now: cfg.Now}
	t.SetKeyring(cfg.Keyring)
	return t, nil
}

// SetKeyring makes kr the keys that sign and verify from now on.
func (t *AccessTokens) SetKeyring(kr *Keyring) {
	k := &tokenKeys{keyring: kr}
	k.parser = jwt.NewParser(
		// Only the algorithms of keys we hold: "none", and HS256 on an
		// EdDSA keyring (algorithm confusion), fail before any key lookup.
		jwt.WithValidMethods(kr.algs),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockLeeway),
		jwt.WithTimeFunc(t.now),
		// Canonical base64 only: one token has one spelling.
		jwt.WithStrictDecoding(),
	)
	k.keyFunc = func(tok *jwt.Token) (any, error) { return verificationKey(kr, tok, t.now()) }
	t.keys.Store(k)
}

// Keyring returns the keys in use.
func (t *AccessTokens) Keyring() *Keyring { return t.keys.Load().keyring }

// accessTokenClaims is the JSON payload. A typed struct decodes faster
// than jwt.MapClaims and leaves nothing to type-assert.
type accessTokenClaims struct {
	jwt.RegisteredClaims
	SessionID string           `json:"sid,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
}

// Validate is called by jwt/v5 after its own checks (exp, nbf, iat, iss,
// aud): every claim Issue writes must be present.
func (c *accessTokenClaims) Validate() error {
	switch {
	case c.Subject == "":
		return fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing)
	case c.SessionID == "":
		return fmt.Errorf("%w: sid", jwt.ErrTokenRequiredClaimMissing)
	case c.ID == "":
		return fmt.Errorf("%w: jti", jwt.ErrTokenRequiredClaimMissing)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing)
	}
	return nil
}

// checkLifetime refuses a token that claims to live longer than this
// server issues tokens for: one minted with a leaked key, or before the TTL
// was shortened, must not outlive the configured TTL. Leeway covers the
// rounding of NumericDates to whole seconds.
func (c *accessTokenClaims) checkLifetime(ttl time.Duration) error {
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > ttl+clockLeeway {
		return fmt.Errorf("lifetime exp - iat of %v exceeds the access-token TTL %v", c.ExpiresAt.Sub(c.IssuedAt.Time), ttl)
	}
	return nil
}

// Issue returns a signed access token for the user's session, and when it
// expires. authTime is when the session's password login happened.
func (t *AccessTokens) Issue(userID, sessionID uuid.UUID, authTime time.Time) (token string, expiresAt time.Time, err error) {
	if userID == uuid.Nil || sessionID == uuid.Nil {
		return "", time.Time{}, errors.New("access tokens: issue with a nil user or session id")
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", time.Time{}, err
	}
	now := t.now()
	claims := &accessTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   userID.String(),
			Audience:  jwt.ClaimStrings{t.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)), // truncated to the second, like every NumericDate
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti.String(),
		},
		SessionID: sessionID.String(),
		AuthTime:  jwt.NewNumericDate(authTime),
	}
	if authTime.IsZero() {
		claims.AuthTime = nil
	}
	k := t.keys.Load().keyring.signer
	tok := &jwt.Token{
		Header: map[string]any{"alg": k.method.Alg(), "typ": accessTokenType, "kid": k.kid},
		Claims: claims,
		Method: k.method,
	}
	token, err = tok.SignedString(k.sign)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("access tokens: sign: %w", err)
	}
	return token, claims.ExpiresAt.Time, nil
}

// Verify checks token (without any "Bearer " prefix) and returns its claims.
// Every failure wraps a *bookstore.Error of kind ErrUnauthorized whose
// message is the same for all of them; the wrapped reason is for debug logs
// and never contains the token.
func (t *AccessTokens) Verify(token string) (AccessClaims, error) {
	if len(token) > maxAccessTokenLength {
		return AccessClaims{}, invalidAccessToken(fmt.Errorf("token of %d bytes is longer than %d", len(token), maxAccessTokenLength))
	}
	var c accessTokenClaims
	keys := t.keys.Load()
	if _, err := keys.parser.ParseWithClaims(token, &c, keys.keyFunc); err != nil {
		return AccessClaims{}, invalidAccessToken(err)
	}
	if err := c.checkLifetime(t.ttl); err != nil {
		return AccessClaims{}, invalidAccessToken(err)
	}
	userID, err := uuid.Parse(c.Subject)
	if err != nil || userID == uuid.Nil {
		return AccessClaims{}, invalidAccessToken(errors.New("sub is not a user id"))
	}
	sessionID, err := uuid.Parse(c.SessionID)
	if err != nil || sessionID == uuid.Nil {
		return AccessClaims{}, invalidAccessToken(errors.New("sid is not a session id"))
	}
	out := AccessClaims{UserID: userID, SessionID: sessionID, ExpiresAt: c.ExpiresAt.Time}
	if c.AuthTime != nil {
		out.AuthTime = c.AuthTime.Time
	}
	return out, nil
}

// verificationKey is the jwt.Keyfunc. jwt/v5 calls it after decoding and
// after checking alg against WithValidMethods, before the signature. The
// header checks live here so a bad header costs no signature check. Header
// values are never echoed into errors: they are attacker-controlled.
func verificationKey(kr *Keyring, tok *jwt.Token, now time.Time) (any, error) {
	// jwt/v5 ignores crit; RFC 7515 §4.1.11 says a recipient that does not
	// understand a listed extension must reject the token, and we
	// understand none.
	if _, ok := tok.Header["crit"]; ok {
		return nil, errors.New("crit header present")
	}
	if typ, _ := tok.Header["typ"].(string); typ != accessTokenType {
		return nil, errors.New("typ header is not " + accessTokenType)
	}
	// The kid is only ever a map key: never a path, a URL or anything to
	// fetch. It must name a key of the algorithm the token claims, so a
	// token cannot pair one key with another key's algorithm.
	kid, _ := tok.Header["kid"].(string)
	k, ok := kr.byKID[kid]
	if !ok || k.alg != tok.Method.Alg() {
		return nil, ErrUnknownKey
	}
	if !k.verifiesAt(now) {
		return nil, errKeyWindowEnded
	}
	return k.verify, nil
}

// invalidAccessToken wraps reason under the one message clients see.
func invalidAccessToken(reason error) error {
	return fmt.Errorf("%w: %w", bookstore.Errorf(bookstore.ErrUnauthorized, "the access token is invalid or expired"), reason)
}
