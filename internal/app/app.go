// Package app assembles the service: from a configuration and an open store
// it builds everything that serves the API — password hashing, the signing
// keys and access tokens, the cursor key, the throttle, metrics, the first
// admin, the HTTP handler and its middleware — and the background chores
// that keep the database tidy. cmd/bookstore, internal/demo and the httpapi
// test harness all build the service here, so there is one wiring.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/sqlite"
	"github.com/bookstore/bookstore/internal/tracing"
)

// Store is a database the service runs on. Both adapters are one; what
// differs between them that the assembly must know, they report.
type Store interface {
	bookstore.Store
	// Migrate applies the pending migrations.
	Migrate(ctx context.Context) error
	// Remote reports a database that is a server of its own, which may be
	// down, starting or failing over while this process runs (PostgreSQL):
	// a failure to reach it may mend by waiting. A local file (SQLite) is
	// there or not.
	Remote() bool
	// System names the engine as OpenTelemetry does (db.system.name).
	System() string
}

var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// Config is what the service needs beyond its store. The zero value of a
// field is its default unless it says otherwise.
type Config struct {
	Logger *slog.Logger // required
	// Database names the database in logs (never with a password).
	Database string

	// Argon2 is the password hash's cost (zero: auth.DefaultArgon2Params).
	Argon2 auth.Argon2Params
	// HashSlots is how many hashes run at once (zero: one per CPU); HashQueueWait
	// bounds the wait for a slot (zero: the hasher's default).
	HashSlots     int
	HashQueueWait time.Duration
	// MinPasswordLength is the password policy's minimum (zero: its default).
	MinPasswordLength int

	// JWTAlg signs new access tokens (auth.AlgHS256 or auth.AlgEdDSA), with
	// the keys kept in the database, made on first start; JWTSecret, when
	// set, is the HS256 key instead, never stored.
	JWTAlg    string
	JWTSecret []byte
	// SigningKeys, when set, are the only keys: nothing is loaded from or
	// stored in the database, and nothing reloads them (tests, demos).
	SigningKeys []bookstore.SigningKey
	AccessTTL   time.Duration // zero: auth.DefaultAccessTTL
	RefreshTTL  time.Duration
	// CursorKey signs page cursors; nil: a key kept in the database, so
	// cursors stay valid across restarts and replicas.
	CursorKey []byte

	// Throttle limits failed attempts; nil turns throttling off.
	Throttle           *auth.ThrottleLimits
	MaxSessionsPerUser int           // zero: no cap
	SessionRetention   time.Duration // ended sessions and spent tokens are purged this long after
	StepUpMaxAge       time.Duration
	TrustedProxies     []netip.Prefix
	CORSOrigins        []string
	// Metrics serves GET /metrics: the API's, the store's pools', the
	// hashes', the Go runtime's and the process's.
	Metrics bool

	// The first admin, created when both are set and the database has no
	// admin (see bootstrapAdmin).
	AdminUsername, AdminPassword string

	// Tracer traces requests, store calls, PostgreSQL queries and hashes;
	// nil: off.
	Tracer trace.TracerProvider

	// Test hooks. Now is the clock of tokens and handlers (nil:
	// time.Now). WrapStore wraps what the API reads and writes through
	// (say, to inject faults). StartRetryMax caps the wait between
	// attempts to reach a remote store at start (zero: 10 s).
	Now           func() time.Time
	WrapStore     func(bookstore.Store) bookstore.Store
	StartRetryMax time.Duration
}

// Service is the assembled service over one store.
type Service struct {
	// Handler serves the whole API.
	Handler http.Handler
	// Hasher hashes the service's passwords (tests hold its slots).
	Hasher *auth.Hasher
	chores chores
	log    *slog.Logger
}

// registerFormats teaches kin-openapi the spec's string formats. Its format
// table is process-wide, so this happens once per process, however many
// services it builds (tests build many).
var registerFormats = sync.OnceFunc(httpapi.RegisterFormats)

// New builds the service over db, which must be migrated: it loads (or
// makes and stores) the signing keys and the cursor key, and creates the
// first admin, so it reads and writes the database.
func New(ctx context.Context, cfg Config, db Store) (*Service, error) {
	if cfg.Logger == nil {
		return nil, errors.New("app: Logger is required")
	}
	log := cfg.Logger
	params := cfg.Argon2
	if params == (auth.Argon2Params{}) {
		params = auth.DefaultArgon2Params()
	}
	var hashOpts []auth.HasherOption
	if cfg.HashQueueWait > 0 {
		hashOpts = append(hashOpts, auth.MaxQueueWait(cfg.HashQueueWait))
	}
	hasher, err := auth.NewHasher(params, cfg.HashSlots, hashOpts...)
	if err != nil {
		return nil, err
	}
	var apiStore bookstore.Store = db // what the API reads and writes through
	if cfg.WrapStore != nil {
		apiStore = cfg.WrapStore(apiStore)
	}
	if cfg.Tracer != nil {
		hasher.TraceWith(cfg.Tracer)
		apiStore = tracing.WrapStore(apiStore, cfg.Tracer, semconv.DBSystemNameKey.String(db.System()))
	}
	policy, err := auth.NewPasswordPolicy(cmp.Or(cfg.MinPasswordLength, auth.DefaultMinPasswordLength))
	if err != nil {
		return nil, err
	}
	accessTTL := cmp.Or(cfg.AccessTTL, auth.DefaultAccessTTL)
	tokens, keys, err := signing(ctx, cfg, db, accessTTL, log)
	if err != nil {
		return nil, err
	}
	cursorKey := cfg.CursorKey
	if cursorKey == nil {
		cursorKey, err = db.Secret(ctx, "cursor-hmac", func() ([]byte, error) { return randomBytes(32), nil })
		if err != nil {
			return nil, fmt.Errorf("load the cursor key: %w", err)
		}
	}
	var throttle *auth.Throttle // nil allows everything
	if cfg.Throttle != nil {
		if throttle, err = auth.NewThrottle(db, *cfg.Throttle); err != nil {
			return nil, err
		}
	}
	if err := bootstrapAdmin(ctx, db, hasher, policy, cfg.AdminUsername, cfg.AdminPassword, log); err != nil {
		return nil, err
	}
	var metrics *httpapi.Metrics // nil: no /metrics
	if cfg.Metrics {
		if metrics, err = newMetrics(db, hasher); err != nil {
			return nil, err
		}
	}
	registerFormats()
	h, err := httpapi.NewHandler(httpapi.Config{
		Store:              apiStore,
		Tokens:             tokens,
		Keys:               keys,
		Hasher:             hasher,
		Policy:             policy,
		RefreshTTL:         cfg.RefreshTTL,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		Throttle:           throttle,
		TrustedProxies:     cfg.TrustedProxies,
		CORSOrigins:        cfg.CORSOrigins,
		CursorKey:          cursorKey,
		Logger:             log,
		Metrics:            metrics,
		StepUpMaxAge:       cfg.StepUpMaxAge,
		Tracer:             cfg.Tracer,
		Now:                cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Service{
		Handler: h,
		Hasher:  hasher,
		chores:  chores{throttle: throttle, keys: keys, sessions: db, sessionRetention: cfg.SessionRetention},
		log:     log,
	}, nil
}

// signing returns the access tokens and, for keys kept in the database,
// what reloads them when another replica (or `bookstore keys`) rotates them.
func signing(ctx context.Context, cfg Config, db bookstore.KeyStore, accessTTL time.Duration, log *slog.Logger) (*auth.AccessTokens, *auth.KeyReloader, error) {
	if cfg.SigningKeys != nil {
		keyring, err := auth.NewKeyring(cfg.SigningKeys, accessTTL)
		if err != nil {
			return nil, nil, err
		}
		tokens, err := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: keyring, AccessTTL: accessTTL, Now: cfg.Now})
		return tokens, nil, err
	}
	keyCfg := auth.KeyConfig{Store: db, Alg: cfg.JWTAlg, Secret: cfg.JWTSecret, AccessTTL: accessTTL}
	keyring, err := auth.LoadKeyring(ctx, keyCfg, time.Now())
	if err != nil {
		return nil, nil, err
	}
	log.Info("signing key loaded", "alg", cfg.JWTAlg, "kid", keyring.SigningKID(), "from_secret", cfg.JWTSecret != nil)
	tokens, err := auth.NewAccessTokens(auth.AccessTokenConfig{AccessTTL: accessTTL, Keyring: keyring, Now: cfg.Now})
	if err != nil {
		return nil, nil, err
	}
	return tokens, auth.NewKeyReloader(keyCfg, tokens), nil
}

// How long Open waits between attempts to reach a remote store: doubling
// from the first delay up to the cap, plus up to a fifth at random, so
// replicas that started together do not knock together.
const (
	firstStartRetryDelay = 250 * time.Millisecond
	maxStartRetryDelay   = 10 * time.Second
)

// Open migrates db and builds the service over it. A local store fails at
// once. A remote one may just not be up yet: while it is unavailable (down,
// unreachable, refusing connections) Open logs why and tries again with
// backoff until ctx ends. Any other error ends it: a migration that fails,
// or a first admin whose password the policy refuses.
func Open(ctx context.Context, cfg Config, db Store) (*Service, error) {
	maxDelay := cmp.Or(cfg.StartRetryMax, maxStartRetryDelay)
	delay := min(firstStartRetryDelay, maxDelay)
	for attempt := 1; ; attempt++ {
		s, err := migrateAndBuild(ctx, cfg, db)
		if err == nil || !db.Remote() || ctx.Err() != nil || !errors.Is(err, bookstore.ErrUnavailable) {
			return s, err
		}
		wait := delay + mrand.N(delay/5+1)
		cfg.Logger.Warn("the database is not ready; retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond).String(),
			"database", cfg.Database, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		delay = min(2*delay, maxDelay)
	}
}

func migrateAndBuild(ctx context.Context, cfg Config, db Store) (*Service, error) {
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	return New(ctx, cfg, db)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: it crashes the program instead
	return b
}
