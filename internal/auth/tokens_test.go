package auth_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func MustKey(tb testing.TB, alg string) bookstore.SigningKey {
	tb.Helper()
	var k bookstore.SigningKey
	var err error
	switch alg {
	case auth.AlgHS256:
		k, err = auth.NewHS256Key(testNow)
	case auth.AlgEdDSA:
		k, err = auth.NewEd25519Key(testNow)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func MustKeyring(tb testing.TB, keys ...bookstore.SigningKey) *auth.Keyring {
	tb.Helper()
	kr, err := auth.NewKeyring(keys, auth.DefaultAccessTTL)
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

func MustAccessTokens(tb testing.TB, kr *auth.Keyring) *auth.AccessTokens {
	tb.Helper()
	at, err := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: kr, Now: func() time.Time { return testNow }})
	if err != nil {
		tb.Fatalf("NewAccessTokens: %v", err)
	}
	return at
}

// signRaw signs any header and claims with jwt/v5 directly, the way an
// attacker (or a buggy issuer) could.
func signRaw(tb testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	tb.Helper()
	tok := &jwt.Token{Header: header, Claims: jwt.MapClaims(claims), Method: method}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

func goodClaims(userID, sessionID uuid.UUID) map[string]any {
	return map[string]any{
		"iss": auth.DefaultIssuer,
		"sub": userID.String(),
		"aud": []string{auth.DefaultAudience},
		"exp": testNow.Add(10 * time.Minute).Unix(),
		"nbf": testNow.Unix(),
		"iat": testNow.Unix(),
		"jti": uuid.NewString(),
		"sid": sessionID.String(),
	}
}

// with returns a copy of m with the given entries set; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestAccessTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{auth.AlgHS256, auth.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			key := MustKey(t, alg)
			at := MustAccessTokens(t, MustKeyring(t, key))
			userID, sessionID := uuid.New(), uuid.New()

			token, expiresAt, err := at.Issue(userID, sessionID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if want := testNow.Add(auth.DefaultAccessTTL); !expiresAt.Equal(want) {
				t.Errorf("expiresAt = %v; want %v", expiresAt, want)
			}
			claims, err := at.Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := auth.AccessClaims{UserID: userID, SessionID: sessionID, ExpiresAt: expiresAt}
			if claims.UserID != want.UserID || claims.SessionID != want.SessionID || !claims.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("Verify = %+v; want %+v", claims, want)
			}

			// The wire format: RFC 9068 header, every registered claim.
			parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			wantHeader := map[string]any{"alg": alg, "typ": "at+jwt", "kid": key.KID}
			if !maps.Equal(parsed.Header, wantHeader) {
				t.Errorf("header = %v; want %v", parsed.Header, wantHeader)
			}
			mc := parsed.Claims.(jwt.MapClaims)
			for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid"} {
				if _, ok := mc[name]; !ok {
					t.Errorf("claim %q missing from %v", name, mc)
				}
			}
			if mc["sub"] != userID.String() || mc["sid"] != sessionID.String() || mc["iss"] != "bookstore" {
				t.Errorf("claims = %v", mc)
			}
		})
	}
}

func TestIssueRejectsNilIDs(t *testing.T) {
	at := MustAccessTokens(t, MustKeyring(t, MustKey(t, auth.AlgHS256)))
	if _, _, err := at.Issue(uuid.Nil, uuid.New(), time.Time{}); err == nil {
		t.Error("Issue(nil user) succeeded")
	}
	if _, _, err := at.Issue(uuid.New(), uuid.Nil, time.Time{}); err == nil {
		t.Error("Issue(nil session) succeeded")
	}
}

// TestVerifyRejects is the attack table: every token here must fail with
// ErrUnauthorized, for the reason given (a substring of the error text), and
// the error must not repeat the token.
func TestVerifyRejects(t *testing.T) {
	hs := MustKey(t, auth.AlgHS256)
	ed := MustKey(t, auth.AlgEdDSA)
	hsKeyring := MustKeyring(t, hs)
	edKeyring := MustKeyring(t, ed)
	mixed := MustKeyring(t, hs, ed)
	edPriv := ed25519.NewKeyFromSeed(ed.Secret)
	edPub := edPriv.Public().(ed25519.PublicKey)

	userID, sessionID := uuid.New(), uuid.New()
	claims := goodClaims(userID, sessionID)
	hsHeader := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": hs.KID}
	edHeader := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": ed.KID}
	hsSign := func(header, claims map[string]any) string {
		return signRaw(t, jwt.SigningMethodHS256, hs.Secret, header, claims)
	}
	edSign := func(header, claims map[string]any) string {
		return signRaw(t, jwt.SigningMethodEdDSA, edPriv, header, claims)
	}

	// The controls: the unmodified tokens verify, so each case below fails
	// because of its one change.
	for name, c := range map[string]struct {
		kr    *auth.Keyring
		token string
	}{
		"HS256": {hsKeyring, hsSign(hsHeader, claims)},
		"EdDSA": {edKeyring, edSign(edHeader, claims)},
		"mixed": {mixed, edSign(edHeader, claims)},
	} {
		if _, err := MustAccessTokens(t, c.kr).Verify(c.token); err != nil {
			t.Fatalf("control %s: %v", name, err)
		}
	}

	valid := hsSign(hsHeader, claims)
	parts := strings.Split(valid, ".")
	tamperedPayload, _ := json.Marshal(with(claims, "sub", uuid.NewString()))
	otherSecret := MustKey(t, auth.AlgHS256).Secret

	tests := []struct {
		name   string
		kr     *auth.Keyring
		token  string
		reason string
	}{
		{"empty", hsKeyring, "", "malformed"},
		{"garbage", hsKeyring, "not a token", "malformed"},
		{"too many segments", hsKeyring, valid + ".x", "malformed"},
		{"many dots", hsKeyring, strings.Repeat(".", 5000), "malformed"},
		{"100 KB of junk", hsKeyring, strings.Repeat("a", 100<<10), "longer than 8192"},
		{"100 KB validly signed", hsKeyring, hsSign(hsHeader, with(claims, "pad", strings.Repeat("x", 100<<10))), "longer than 8192"},
		{"alg none", hsKeyring, signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			with(hsHeader, "alg", "none"), claims), "signing method none is invalid"},
		{"alg none, upper case", hsKeyring, b64(`{"alg":"NONE","typ":"at+jwt","kid":"`+hs.KID+`"}`) + "." + parts[1] + ".", "signing method (alg) is unavailable"},
		{"signature stripped", hsKeyring, parts[0] + "." + parts[1] + ".", "signature is invalid"},
		{"alg confusion: HS256 with the public key as secret", edKeyring,
			signRaw(t, jwt.SigningMethodHS256, []byte(edPub), with(edHeader, "alg", "HS256"), claims), "signing method HS256 is invalid"},
		{"alg confusion on a mixed keyring", mixed,
			signRaw(t, jwt.SigningMethodHS256, []byte(edPub), with(edHeader, "alg", "HS256"), claims), "kid names no key"},
		{"EdDSA token naming an HS256 kid", mixed, edSign(with(edHeader, "kid", hs.KID), claims), "kid names no key"},
		{"HS384", hsKeyring, signRaw(t, jwt.SigningMethodHS384, hs.Secret, with(hsHeader, "alg", "HS384"), claims), "signing method HS384 is invalid"},
		{"wrong key", hsKeyring, signRaw(t, jwt.SigningMethodHS256, otherSecret, hsHeader, claims), "signature is invalid"},
		{"tampered payload", hsKeyring, parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2], "signature is invalid"},
		{"tampered signature", hsKeyring, valid[:len(valid)-2] + flip(valid[len(valid)-2:]), "signature is invalid"},
		{"expired", hsKeyring, hsSign(hsHeader, with(claims, "exp", testNow.Add(-time.Minute).Unix())), "token is expired"},
		{"nbf in the future", hsKeyring, hsSign(hsHeader, with(claims, "nbf", testNow.Add(time.Minute).Unix())), "token is not valid yet"},
		{"iat in the future", hsKeyring, hsSign(hsHeader, with(claims, "iat", testNow.Add(time.Minute).Unix())), "token used before issued"},
		{"lifetime of a year", hsKeyring, hsSign(hsHeader, with(claims, "exp", testNow.Add(365*24*time.Hour).Unix())), "exceeds the access-token TTL"},
		{"lifetime just over TTL and leeway", hsKeyring, hsSign(hsHeader, with(claims, "exp", testNow.Add(auth.DefaultAccessTTL+6*time.Second).Unix())), "exceeds the access-token TTL"},
		{"missing exp", hsKeyring, hsSign(hsHeader, with(claims, "exp", nil)), "missing required claim"},
		{"missing nbf", hsKeyring, hsSign(hsHeader, with(claims, "nbf", nil)), "missing required claim"},
		{"missing iat", hsKeyring, hsSign(hsHeader, with(claims, "iat", nil)), "missing required claim: iat"},
		{"missing sid", hsKeyring, hsSign(hsHeader, with(claims, "sid", nil)), "missing required claim: sid"},
		{"missing sub", hsKeyring, hsSign(hsHeader, with(claims, "sub", nil)), "missing required claim: sub"},
		{"missing jti", hsKeyring, hsSign(hsHeader, with(claims, "jti", nil)), "missing required claim: jti"},
		{"exp not a number", hsKeyring, hsSign(hsHeader, with(claims, "exp", "tomorrow")), "malformed"},
		{"wrong aud", hsKeyring, hsSign(hsHeader, with(claims, "aud", "other-api")), "invalid audience"},
		{"missing aud", hsKeyring, hsSign(hsHeader, with(claims, "aud", nil)), "missing required claim: aud"},
		{"wrong iss", hsKeyring, hsSign(hsHeader, with(claims, "iss", "evil")), "invalid issuer"},
		{"missing iss", hsKeyring, hsSign(hsHeader, with(claims, "iss", nil)), "missing required claim: iss"},
		{"crit header", hsKeyring, hsSign(with(hsHeader, "crit", []string{"exp"}), with(claims)), "crit header"},
		{"empty crit header", hsKeyring, hsSign(with(hsHeader, "crit", []string{}), claims), "crit header"},
		{"unknown kid", hsKeyring, hsSign(with(hsHeader, "kid", "hs256-0000000000000000"), claims), "kid names no key"},
		{"kid is a path", hsKeyring, hsSign(with(hsHeader, "kid", "../../etc/passwd"), claims), "kid names no key"},
		{"kid is a URL", hsKeyring, hsSign(with(hsHeader, "kid", "https://evil.example/jwks.json"), claims), "kid names no key"},
		{"kid is a number", hsKeyring, hsSign(with(hsHeader, "kid", 1), claims), "kid names no key"},
		{"missing kid", hsKeyring, hsSign(with(hsHeader, "kid", nil), claims), "kid names no key"},
		{"missing typ", hsKeyring, hsSign(with(hsHeader, "typ", nil), claims), "typ header"},
		{"typ JWT", hsKeyring, hsSign(with(hsHeader, "typ", "JWT"), claims), "typ header"},
		{"sub not a UUID", hsKeyring, hsSign(hsHeader, with(claims, "sub", "admin")), "sub is not a user id"},
		{"sub nil UUID", hsKeyring, hsSign(hsHeader, with(claims, "sub", uuid.Nil.String())), "sub is not a user id"},
		{"sid not a UUID", hsKeyring, hsSign(hsHeader, with(claims, "sid", "session-1")), "sid is not a session id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MustAccessTokens(t, tt.kr).Verify(tt.token)
			if !errors.Is(err, bookstore.ErrUnauthorized) {
				t.Fatalf("Verify = %+v, %v; want ErrUnauthorized", got, err)
			}
			if got != (auth.AccessClaims{}) {
				t.Errorf("Verify returned claims %+v with its error", got)
			}
			var be *bookstore.Error
			if !errors.As(err, &be) || be.Message != "the access token is invalid or expired" {
				t.Errorf("client message = %v; want the generic one", be)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not give the reason %q", err, tt.reason)
			}
			if len(tt.token) > 16 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error repeats the token")
			}
		})
	}
}

// The leeway is 5 seconds, for clock skew between instances.
func TestVerifyLeeway(t *testing.T) {
	hs := MustKey(t, auth.AlgHS256)
	at := MustAccessTokens(t, MustKeyring(t, hs))
	header := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": hs.KID}
	claims := goodClaims(uuid.New(), uuid.New())
	for _, tt := range []struct {
		claim string
		at    time.Duration
		ok    bool
	}{
		{"exp", -4 * time.Second, true},
		{"exp", -5 * time.Second, false},
		{"nbf", 4 * time.Second, true},
		{"nbf", 6 * time.Second, false},
		{"iat", 4 * time.Second, true},
		{"iat", 6 * time.Second, false},
	} {
		token := signRaw(t, jwt.SigningMethodHS256, hs.Secret, header, with(claims, tt.claim, testNow.Add(tt.at).Unix()))
		if _, err := at.Verify(token); (err == nil) != tt.ok {
			t.Errorf("%s at now%+v: Verify = %v; want ok=%v", tt.claim, tt.at, err, tt.ok)
		}
	}
}

// FuzzVerifyAccessToken: no input panics, and none but the issued token
// verifies (the fuzzer cannot forge an HMAC).
func FuzzVerifyAccessToken(f *testing.F) {
	at := MustAccessTokens(f, MustKeyring(f, MustKey(f, auth.AlgHS256)))
	valid, _, err := at.Issue(uuid.New(), uuid.New(), time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := at.Verify(token); err == nil && token != valid {
			t.Errorf("forged token verified: %q", token)
		} else if err != nil && !errors.Is(err, bookstore.ErrUnauthorized) {
			t.Errorf("Verify = %v; want ErrUnauthorized", err)
		}
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// flip changes the first character of a base64url tail to another valid one.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestRetiredKeyStillVerifies(t *testing.T) {
	old := MustKey(t, auth.AlgHS256)
	oldTokens := MustAccessTokens(t, MustKeyring(t, old))
	token, _, err := oldTokens.Issue(uuid.New(), uuid.New(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	// Rotation: a newer key signs; the old one is retired but kept.
	retired := testNow
	old.RetiredAt = &retired
	newer := MustKey(t, auth.AlgEdDSA)
	newer.CreatedAt = testNow.Add(time.Hour)
	rotated := MustKeyring(t, newer, old)
	if rotated.SigningKID() != newer.KID {
		t.Errorf("signing kid = %q; want the newest active key %q", rotated.SigningKID(), newer.KID)
	}
	at := MustAccessTokens(t, rotated)
	if _, err := at.Verify(token); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
	fresh, _, _ := at.Issue(uuid.New(), uuid.New(), time.Time{})
	h, _, _ := jwt.NewParser().ParseUnverified(fresh, jwt.MapClaims{})
	if h.Header["kid"] != newer.KID || h.Header["alg"] != auth.AlgEdDSA {
		t.Errorf("new token header %v; want the newer key", h.Header)
	}
}

func TestKeyringSigner(t *testing.T) {
	a, b, c := MustKey(t, auth.AlgHS256), MustKey(t, auth.AlgHS256), MustKey(t, auth.AlgHS256)
	a.CreatedAt = testNow
	b.CreatedAt = testNow.Add(2 * time.Hour) // newest, but retired
	c.CreatedAt = testNow.Add(time.Hour)
	b.RetiredAt = &testNow
	if got := MustKeyring(t, a, b, c).SigningKID(); got != c.KID {
		t.Errorf("signer = %q; want the newest key that is not retired, %q", got, c.KID)
	}
}

func TestNewKeyringRejects(t *testing.T) {
	hs, ed := MustKey(t, auth.AlgHS256), MustKey(t, auth.AlgEdDSA)
	retired := hs
	retired.RetiredAt = &testNow
	change := func(k bookstore.SigningKey, f func(*bookstore.SigningKey)) bookstore.SigningKey {
		f(&k)
		return k
	}
	tests := map[string][]bookstore.SigningKey{
		"no keys":          nil,
		"only retired":     {retired},
		"duplicate kid":    {hs, change(ed, func(k *bookstore.SigningKey) { k.KID = hs.KID })},
		"empty kid":        {change(hs, func(k *bookstore.SigningKey) { k.KID = "" })},
		"short HS secret":  {change(hs, func(k *bookstore.SigningKey) { k.Secret = k.Secret[:31] })},
		"short Ed seed":    {change(ed, func(k *bookstore.SigningKey) { k.Secret = k.Secret[:31] })},
		"Ed private key":   {change(ed, func(k *bookstore.SigningKey) { k.Secret = ed25519.NewKeyFromSeed(ed.Secret) })},
		"none":             {change(hs, func(k *bookstore.SigningKey) { k.Alg = "none" })},
		"RS256":            {change(hs, func(k *bookstore.SigningKey) { k.Alg = "RS256" })},
		"lower-case hs256": {change(hs, func(k *bookstore.SigningKey) { k.Alg = "hs256" })},
	}
	for name, keys := range tests {
		if _, err := auth.NewKeyring(keys, auth.DefaultAccessTTL); err == nil {
			t.Errorf("%s: NewKeyring succeeded", name)
		}
	}
}

func TestNewAccessTokensConfig(t *testing.T) {
	kr := MustKeyring(t, MustKey(t, auth.AlgHS256))
	for name, cfg := range map[string]auth.AccessTokenConfig{
		"no keyring":    {},
		"negative TTL":  {Keyring: kr, AccessTTL: -time.Minute},
		"TTL of 2 days": {Keyring: kr, AccessTTL: 48 * time.Hour},
	} {
		if _, err := auth.NewAccessTokens(cfg); err == nil {
			t.Errorf("%s: NewAccessTokens succeeded", name)
		}
	}

	// Issuer and audience are checked against the configuration.
	other, err := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: kr, Issuer: "other", Audience: "other-api", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	token, exp, err := other.Issue(uuid.New(), uuid.New(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 50*time.Second || d > time.Minute {
		t.Errorf("expiry in %v; want the 1 minute TTL", d)
	}
	if _, err := other.Verify(token); err != nil {
		t.Errorf("own token: %v", err)
	}
	if _, err := MustAccessTokens(t, kr).Verify(token); !errors.Is(err, bookstore.ErrUnauthorized) {
		t.Errorf("token for another issuer and audience = %v; want ErrUnauthorized", err)
	}
}

func TestJWKS(t *testing.T) {
	if b, _ := json.Marshal(MustKeyring(t, MustKey(t, auth.AlgHS256)).JWKS(testNow)); string(b) != "[]" {
		t.Errorf("HS256 keyring JWKS = %s; want []", b)
	}

	ed, old, hs := MustKey(t, auth.AlgEdDSA), MustKey(t, auth.AlgEdDSA), MustKey(t, auth.AlgHS256)
	old.RetiredAt = &testNow
	kr := MustKeyring(t, ed, old, hs)
	jwks := kr.JWKS(testNow)
	if len(jwks) != 2 {
		t.Fatalf("JWKS = %v; want the two EdDSA keys, retired included", jwks)
	}
	for i, k := range []bookstore.SigningKey{ed, old} {
		pub := ed25519.NewKeyFromSeed(k.Secret).Public().(ed25519.PublicKey)
		want := auth.JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KID: k.KID, Alg: "EdDSA", Use: "sig"}
		if jwks[i] != want {
			t.Errorf("JWKS[%d] = %+v; want %+v", i, jwks[i], want)
		}
		// The kid is the RFC 7638 thumbprint of the published key.
		if got := thumbprint(jwks[i].X); got != k.KID {
			t.Errorf("kid %q is not the thumbprint %q", k.KID, got)
		}
	}
	b, _ := json.Marshal(jwks[0])
	var fields map[string]string
	if err := json.Unmarshal(b, &fields); err != nil || len(fields) != 6 || fields["kty"] != "OKP" || fields["crv"] != "Ed25519" || fields["use"] != "sig" {
		t.Errorf("JSON = %s", b)
	}

	// A token verifies with nothing but the published x.
	token, _, _ := MustAccessTokens(t, kr).Issue(uuid.New(), uuid.New(), time.Time{})
	x, _ := base64.RawURLEncoding.DecodeString(jwks[0].X)
	i := strings.LastIndexByte(token, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(token[i+1:])
	if !ed25519.Verify(ed25519.PublicKey(x), []byte(token[:i]), sig) {
		t.Error("the JWKS key does not verify a token")
	}

	// JWKS returns a copy.
	jwks[0].X = "changed"
	if kr.JWKS(testNow)[0].X == "changed" {
		t.Error("JWKS shares its slice with the keyring")
	}
}

// thumbprint is RFC 7638 for an Ed25519 JWK, written independently of the
// package, and checked against RFC 8037 appendix A.3.
func thumbprint(x string) string {
	b, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}{"Ed25519", "OKP", x})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestThumbprintVector(t *testing.T) {
	if got := thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("thumbprint of the RFC 8037 key = %q", got)
	}
}

func TestHS256KeyFromSecret(t *testing.T) {
	if _, err := auth.HS256KeyFromSecret(make([]byte, 31)); err == nil {
		t.Error("31-byte secret accepted")
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := auth.HS256KeyFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := auth.HS256KeyFromSecret(secret)
	c, _ := auth.HS256KeyFromSecret([]byte("0123456789abcdef0123456789abcdeF"))
	if a.KID != b.KID || a.KID == c.KID {
		t.Errorf("kids %q, %q, %q: want equal for one secret, different for another", a.KID, b.KID, c.KID)
	}
	if a.Alg != auth.AlgHS256 || string(a.Secret) != string(secret) {
		t.Errorf("key = %+v", a)
	}
	for _, enc := range []string{string(secret), base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret), "0123456789"} {
		if strings.Contains(a.KID, enc) {
			t.Errorf("kid %q reveals the secret", a.KID)
		}
	}
	secret[0] = 'X'
	if a.Secret[0] == 'X' {
		t.Error("the key shares the caller's secret slice")
	}
}

func BenchmarkIssueHS256(b *testing.B) {
	at := MustAccessTokens(b, MustKeyring(b, MustKey(b, auth.AlgHS256)))
	u, s := uuid.New(), uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := at.Issue(u, s, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkVerify(b *testing.B, alg string) {
	at := MustAccessTokens(b, MustKeyring(b, MustKey(b, alg)))
	token, _, err := at.Issue(uuid.New(), uuid.New(), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := at.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256(b *testing.B) { benchmarkVerify(b, auth.AlgHS256) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchmarkVerify(b, auth.AlgEdDSA) }

// BenchmarkVerifyOversized is the cost of refusing a 100 KB token.
func BenchmarkVerifyOversized(b *testing.B) {
	at := MustAccessTokens(b, MustKeyring(b, MustKey(b, auth.AlgHS256)))
	token := strings.Repeat("a", 100<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := at.Verify(token); err == nil {
			b.Fatal("accepted")
		}
	}
}

// A token may live as long as the TTL (plus the leeway for clock skew and
// rounding) and no longer; see TestVerifyRejects for longer ones.
func TestVerifyAcceptsTheConfiguredLifetime(t *testing.T) {
	hs := MustKey(t, auth.AlgHS256)
	at := MustAccessTokens(t, MustKeyring(t, hs))
	header := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": hs.KID}
	claims := with(goodClaims(uuid.New(), uuid.New()), "exp", testNow.Add(auth.DefaultAccessTTL+5*time.Second).Unix())
	if _, err := at.Verify(signRaw(t, jwt.SigningMethodHS256, hs.Secret, header, claims)); err != nil {
		t.Fatalf("a token of TTL plus leeway: %v", err)
	}
}

// auth_time (RFC 9470) goes into the token as issued and comes back out.
func TestAccessTokenAuthTime(t *testing.T) {
	at := MustAccessTokens(t, MustKeyring(t, MustKey(t, auth.AlgHS256)))
	login := testNow.Add(-3 * time.Hour)
	token, _, err := at.Issue(uuid.New(), uuid.New(), login)
	if err != nil {
		t.Fatal(err)
	}
	c, err := at.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AuthTime.Equal(login.Truncate(time.Second)) {
		t.Fatalf("AuthTime = %v, want %v", c.AuthTime, login.Truncate(time.Second))
	}
	token, _, _ = at.Issue(uuid.New(), uuid.New(), time.Time{})
	if c, _ := at.Verify(token); !c.AuthTime.IsZero() {
		t.Fatalf("a token issued without auth_time has AuthTime %v", c.AuthTime)
	}
}
