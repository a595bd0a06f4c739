package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/sqlite"
	"github.com/bookstore/bookstore/internal/tracing"
)

// defaultShutdownTimeout is how long in-flight requests get to finish after
// SIGINT or SIGTERM. It stays under the 30 s that Kubernetes and systemd
// wait before killing the process.
const defaultShutdownTimeout = 20 * time.Second

// registerFormats registers the spec's string formats with kin-openapi. Its
// format table is process-wide, so this happens once per process, not once
// per Main (tests run several).
var registerFormats = sync.OnceFunc(httpapi.RegisterFormats)

// Main is the server: Run opens the database, serves HTTP until its context
// ends, then shuts down gracefully. Tests run it on 127.0.0.1:0 and read
// the bound address from Addr once Ready is closed; the API answers once
// Serving is closed (at once with SQLite, when the database is up and
// migrated with PostgreSQL).
type Main struct {
	Config          Config
	Logger          *slog.Logger
	ShutdownTimeout time.Duration // zero: defaultShutdownTimeout

	// Test hooks. argon2 lowers the hashing cost (zero: the OWASP
	// defaults); wrap sees every request before the API does.
	// retryMax caps the wait between attempts to reach PostgreSQL at
	// start (zero: maxStartRetryDelay).
	argon2   auth.Argon2Params
	wrap     func(http.Handler) http.Handler
	retryMax time.Duration

	// Tracer, when set, traces requests, store calls, PostgreSQL queries
	// and password hashes (nil: tracing is off; see tracing.FromEnv).
	Tracer trace.TracerProvider

	ready   chan struct{} // closed once listening
	serving chan struct{} // closed once the API is served
	done    chan struct{} // closed when Run returns

	mu        sync.Mutex
	started   bool
	closed    bool
	cancel    context.CancelFunc
	addr      string
	debugAddr string // the profiler's, if BOOKSTORE_DEBUG_ADDR is set
	err       error  // Run's result, read after done is closed
}

// NewMain returns a Main that has not started.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, ready: make(chan struct{}), serving: make(chan struct{}), done: make(chan struct{})}
}

// Serving is closed once the API is served: the database is migrated and
// the keys are loaded. Until then only GET /healthz answers 200, and
// everything else 503.
func (m *Main) Serving() <-chan struct{} { return m.serving }

// Ready is closed once the server listens: Addr is then valid.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// Done is closed when Run has returned.
func (m *Main) Done() <-chan struct{} { return m.done }

// Addr is the address the server listens on, e.g. 127.0.0.1:41234.
func (m *Main) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// DebugAddr is the address the profiler listens on, once Ready is closed;
// "" when BOOKSTORE_DEBUG_ADDR is not set.
func (m *Main) DebugAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.debugAddr
}

// Close shuts a running Main down gracefully, waits for Run to return and
// returns its error. A Main that never ran has nothing to close.
func (m *Main) Close() error {
	m.mu.Lock()
	m.closed = true
	started, cancel := m.started, m.cancel
	m.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	<-m.done
	return m.err
}

// Run serves until ctx ends, then stops accepting connections, lets the
// requests in flight finish (up to ShutdownTimeout) and closes the
// database. It returns nil after a clean shutdown.
func (m *Main) Run(ctx context.Context) (err error) {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("bookstore: Main.Run called twice or after Close")
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(ctx)
	m.mu.Unlock()
	defer func() {
		m.err = err
		close(m.done)
	}()
	defer m.cancel()

	log := m.Logger
	// The address first: a start that cannot listen must not have created
	// or migrated a database, or made a signing key, on its way to failing.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.Config.Addr)
	if err != nil {
		return listenError("addr", m.Config.Addr, err)
	}
	defer ln.Close() // a no-op once srv.Serve has closed it
	if m.Config.DebugAddr != "" {
		dln, err := lc.Listen(ctx, "tcp", m.Config.DebugAddr)
		if err != nil {
			return listenError("debug-addr", m.Config.DebugAddr, err)
		}
		// No timeouts: a CPU profile or trace streams for as long as
		// asked (?seconds=N). Closed, not shut down, with the server.
		dsrv := &http.Server{Handler: newDebugHandler(), ReadHeaderTimeout: m.Config.Limits.ReadHeaderTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go dsrv.Serve(dln)
		defer dsrv.Close()
		m.mu.Lock()
		m.debugAddr = dln.Addr().String()
		m.mu.Unlock()
		if ap, err := netip.ParseAddrPort(m.debugAddr); err == nil && !ap.Addr().IsLoopback() {
			log.Warn("the profiler listens beyond loopback: anyone who reaches it can read the program's internals", "debug_addr", m.debugAddr)
		}
		log.Info("profiler listening", "debug_addr", m.debugAddr)
	}
	if err := checkDatabaseLocation(m.Config.Database); err != nil {
		return err
	}
	log.Info("starting", "version", version, "config", m.Config)
	if !m.Config.Throttle {
		log.Warn("throttling is off (BOOKSTORE_THROTTLE=off): failed logins and registrations are not limited; use this for benchmarks only")
	}

	dbc := m.Config.Database
	if dbc.Engine != enginePostgres && !dbc.Pool.isZero() {
		log.Warn("the BOOKSTORE_DB_* pool settings apply to PostgreSQL only; ignored")
	}
	db, err := openStore(ctx, dbc, m.Tracer)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, cerr)
			return
		}
		log.Info("database closed")
	}()

	// The API needs the database migrated, and the signing keys, the cursor
	// key and the first admin read from it (or stored in it). SQLite is a
	// local file: what fails there does not mend by waiting, so the start
	// fails at once. PostgreSQL may just not be up yet (it starts after the
	// replicas, or is failing over): the server listens anyway, answers
	// /healthz, and 503 to everything else (/readyz included) while it
	// keeps trying in the background.
	api := &swapHandler{}
	var stopChores func()
	defer func() {
		// Registered after the database's Close, so it runs before it.
		if stopChores != nil {
			stopChores()
		}
	}()
	install := func(p preparedAPI) {
		api.set(p.handler)
		stopChores = startHousekeeping(ctx, p.chores, log)
	}
	serving := func() {
		close(m.serving)
		log.Info("serving the API")
	}
	if dbc.Engine == enginePostgres {
		api.set(httpapi.NewStartingHandler())
	} else {
		p := m.prepare(ctx, db)
		if p.err != nil {
			return p.err
		}
		install(p)
	}

	srv := &http.Server{
		Handler: api,
		// A slow or stalled client cannot hold a connection (and its
		// goroutine) for long: headers in 5 s, the whole request in 30 s.
		ReadHeaderTimeout: m.Config.Limits.ReadHeaderTimeout,
		ReadTimeout:       m.Config.Limits.ReadTimeout,
		WriteTimeout:      m.Config.Limits.WriteTimeout,
		IdleTimeout:       m.Config.Limits.IdleTimeout,
		// Large enough for a 100 KB token to reach the API and be refused
		// as a 401 problem, rather than cut off as a bare 431.
		MaxHeaderBytes: m.Config.Limits.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	m.mu.Lock()
	m.addr = ln.Addr().String()
	m.mu.Unlock()
	close(m.ready)
	log.Info("listening", "addr", m.addr, "docs", docsURL(m.addr))
	if dbc.Engine != enginePostgres {
		serving()
	}

	var preparing chan preparedAPI // nil, so never ready, unless preparing
	if dbc.Engine == enginePostgres {
		preparing = make(chan preparedAPI, 1)
		pctx, cancel := context.WithCancel(ctx)
		go func() { preparing <- m.prepareRetrying(pctx, db) }()
		defer func() {
			// Before the database closes: the attempt in progress ends.
			cancel()
			if preparing != nil {
				<-preparing
			}
		}()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var failed error // the start failed while listening
wait:
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case p := <-preparing:
			preparing = nil
			if p.err != nil {
				failed = p.err
				break wait
			}
			install(p)
			serving()
		case <-ctx.Done():
			break wait
		}
	}

	timeout := m.ShutdownTimeout
	if timeout <= 0 {
		timeout = defaultShutdownTimeout
	}
	log.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests are still running after the grace period: cut their
		// connections so the database can close, and say so in the status.
		srv.Close()
		<-served
		return errors.Join(failed, fmt.Errorf("shutdown: requests still running after %v were cut off", timeout))
	}
	<-served // http.ErrServerClosed
	if failed != nil {
		return failed
	}
	log.Info("stopped")
	return nil
}

// store is a database of either engine that the program can migrate.
type store interface {
	bookstore.Store
	Migrate(ctx context.Context) error
}

var (
	_ store = (*sqlite.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// openStore opens the database d names, without migrating it. SQLite opens
// (and creates) the file at once; PostgreSQL only checks the URL and
// connects on first use, so it may still be down.
func openStore(ctx context.Context, d Database, tp trace.TracerProvider) (store, error) {
	if d.Engine == enginePostgres {
		var opts []postgres.Option
		if tp != nil {
			opts = append(opts, postgres.WithQueryTracer(tracing.NewQueryTracer(tp)))
		}
		if d.Pool.MaxConns > 0 {
			opts = append(opts, postgres.WithMaxConns(d.Pool.MaxConns))
		}
		if d.Pool.ConnectTimeout != nil {
			opts = append(opts, postgres.WithConnectTimeout(*d.Pool.ConnectTimeout))
		}
		if d.Pool.StatementTimeout != nil {
			opts = append(opts, postgres.WithStatementTimeout(*d.Pool.StatementTimeout))
		}
		db, err := postgres.Open(ctx, d.URL, opts...) // its errors mask the password
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	if err := checkDatabaseLocation(d); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, d.Path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// openDatabase opens the database and applies pending migrations, for the
// subcommands: they fail at once when the database cannot be reached.
func openDatabase(ctx context.Context, d Database) (store, error) {
	db, err := openStore(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// preparedAPI is the API over a migrated database, with its chores, or why
// there is none.
type preparedAPI struct {
	handler http.Handler
	chores  housekeeping
	err     error
}

// prepare migrates db and builds the API over it.
func (m *Main) prepare(ctx context.Context, db store) preparedAPI {
	if err := db.Migrate(ctx); err != nil {
		return preparedAPI{err: err}
	}
	h, chores, err := m.handler(ctx, db)
	return preparedAPI{handler: h, chores: chores, err: err}
}

// How long the server waits between attempts to reach PostgreSQL at start:
// doubling from the first delay up to the cap, plus up to a fifth at
// random, so replicas that started together do not knock together.
const (
	firstStartRetryDelay = 250 * time.Millisecond
	maxStartRetryDelay   = 10 * time.Second
)

// prepareRetrying runs prepare until it succeeds, while the database is
// unavailable (down, unreachable, refusing connections) logging why and
// trying again with backoff. Any other error ends the start: a migration
// that fails, or a first admin whose password the policy refuses.
func (m *Main) prepareRetrying(ctx context.Context, db store) preparedAPI {
	maxDelay := m.retryMax
	if maxDelay <= 0 {
		maxDelay = maxStartRetryDelay
	}
	delay := min(firstStartRetryDelay, maxDelay)
	for attempt := 1; ; attempt++ {
		p := m.prepare(ctx, db)
		if p.err == nil || ctx.Err() != nil || !errors.Is(p.err, bookstore.ErrUnavailable) {
			return p
		}
		wait := delay + mrand.N(delay/5+1)
		m.Logger.Warn("the database is not ready; retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond).String(),
			"database", m.Config.Database.String(), "error", p.err.Error())
		select {
		case <-ctx.Done():
			return preparedAPI{err: ctx.Err()}
		case <-time.After(wait):
		}
		delay = min(2*delay, maxDelay)
	}
}

// swapHandler serves whichever handler was set last: the starting handler
// until the API is ready, then the API.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// handler builds the API over db: password hashing, the signing keys (made
// and stored on first start), access tokens, the cursor key and the
// throttle (nil when off).
func (m *Main) handler(ctx context.Context, db bookstore.Store) (_ http.Handler, _ housekeeping, err error) {
	var none housekeeping
	cfg, log := m.Config, m.Logger
	params := m.argon2
	if params == (auth.Argon2Params{}) {
		params = auth.DefaultArgon2Params()
	}
	hasher, err := auth.NewHasher(params, cfg.Hashing.Slots, auth.MaxQueueWait(cfg.Hashing.QueueWait))
	if err != nil {
		return nil, none, err
	}
	apiStore := db // what the API reads and writes through: traced when tracing
	if m.Tracer != nil {
		hasher.TraceWith(m.Tracer)
		engine := tracing.SQLite
		if cfg.Database.Engine == enginePostgres {
			engine = tracing.PostgreSQL
		}
		apiStore = tracing.WrapStore(db, m.Tracer, engine)
	}
	policy, err := auth.NewPasswordPolicy(cfg.MinPasswordLength)
	if err != nil {
		return nil, none, err
	}
	keyCfg := keyConfig(cfg, db)
	keyring, err := auth.LoadKeyring(ctx, keyCfg, time.Now())
	if err != nil {
		return nil, none, err
	}
	log.Info("signing key loaded", "alg", cfg.JWTAlg, "kid", keyring.SigningKID(), "from_secret", cfg.JWTSecret != nil)
	tokens, err := auth.NewAccessTokens(auth.AccessTokenConfig{AccessTTL: cfg.AccessTTL, Keyring: keyring})
	if err != nil {
		return nil, none, err
	}
	keys := auth.NewKeyReloader(keyCfg, tokens)
	// Kept in the database so cursors stay valid across restarts and
	// replicas.
	cursorKey, err := db.Secret(ctx, "cursor-hmac", func() ([]byte, error) {
		return randomBytes(32), nil
	})
	if err != nil {
		return nil, none, fmt.Errorf("load the cursor key: %w", err)
	}
	var throttle *auth.Throttle // nil allows everything
	if cfg.Throttle {
		if throttle, err = auth.NewThrottle(db, cfg.ThrottleLimits); err != nil {
			return nil, none, err
		}
	}
	if err := bootstrapAdmin(ctx, db, hasher, policy, cfg.AdminUsername, cfg.AdminPassword, log); err != nil {
		return nil, none, err
	}
	var metrics *httpapi.Metrics // nil: no /metrics (BOOKSTORE_METRICS=off)
	if cfg.Metrics {
		if metrics, err = newMetrics(db, hasher); err != nil {
			return nil, none, err
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
		MaxSessionsPerUser: cfg.Sessions.MaxPerUser,
		Throttle:           throttle,
		TrustedProxies:     cfg.TrustedProxies,
		CORSOrigins:        cfg.CORSOrigins,
		CursorKey:          cursorKey,
		Logger:             log,
		Metrics:            metrics,
		StepUpMaxAge:       cfg.StepUpMaxAge,
		Tracer:             m.Tracer,
	})
	if err != nil {
		return nil, none, err
	}
	if m.wrap != nil {
		h = m.wrap(h)
	}
	return h, housekeeping{throttle: throttle, keys: keys, sessions: db, sessionRetention: cfg.Sessions.Retention}, nil
}

// keyConfig says where the signing keys come from.
func keyConfig(cfg Config, store bookstore.KeyStore) auth.KeyConfig {
	return auth.KeyConfig{Store: store, Alg: cfg.JWTAlg, Secret: cfg.JWTSecret, AccessTTL: cfg.AccessTTL}
}

// The background chores of a server: keep the signing keys in step with
// the database (another replica or `bookstore keys rotate` may have rotated
// them), delete ended throttle windows, which are ignored anyway but would
// make the table grow, and purge ended sessions and spent refresh tokens
// past their retention (see purge.go).
const (
	keyReloadInterval = time.Minute
	sweepInterval     = 10 * time.Minute
)

type housekeeping struct {
	throttle *auth.Throttle // nil when throttling is off
	keys     *auth.KeyReloader
	// sessions are purged of rows ended longer than sessionRetention ago.
	sessions         bookstore.SessionStore
	sessionRetention time.Duration
}

// startHousekeeping runs the chores until the returned stop is called;
// stop waits for a chore in progress. A chore that fails or panics is
// logged and tried again next time: it never takes the server down.
func startHousekeeping(ctx context.Context, h housekeeping, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	chore := func(name string, fn func(now time.Time) error) {
		defer func() {
			if v := recover(); v != nil {
				log.Error("housekeeping panicked", "chore", name, "panic", fmt.Sprint(v))
			}
		}()
		if err := fn(time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("housekeeping failed", "chore", name, "error", err.Error())
		}
	}
	go func() {
		defer close(done)
		reload := time.NewTicker(keyReloadInterval)
		defer reload.Stop()
		sweep := time.NewTicker(sweepInterval)
		defer sweep.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload.C:
				chore("reload signing keys", func(now time.Time) error { return h.keys.Reload(ctx, now) })
			case <-sweep.C:
				chore("sweep throttle", func(now time.Time) error {
					n, err := h.throttle.Sweep(ctx, now)
					log.Debug("throttle swept", "deleted", n)
					return err
				})
				chore("purge sessions", func(now time.Time) error {
					sessions, tokens, err := purgeSessions(ctx, h.sessions, now.Add(-h.sessionRetention))
					log.Debug("sessions purged", "sessions", sessions, "refresh_tokens", tokens)
					return err
				})
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// docsURL is where a browser on this machine finds the documentation of
// a server listening on addr.
func docsURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "/docs/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost" // every interface: this machine's included
	}
	return "http://" + net.JoinHostPort(host, port) + "/docs/"
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: it crashes the program instead
	return b
}

// bootstrapAdmin creates the admin named by BOOKSTORE_ADMIN_USERNAME and
// BOOKSTORE_ADMIN_PASSWORD when both are set and the database has no admin
// at all. Once there is an admin, the variables are ignored: restarts with
// them still set never reset a password, and never bring back an admin that
// was deleted or demoted.
func bootstrapAdmin(ctx context.Context, users bookstore.UserStore, h *auth.Hasher, policy auth.PasswordPolicy, username, password string, log *slog.Logger) error {
	switch {
	case username == "" && password == "":
		return nil
	case password == "":
		// Dropping the password after the first start is good practice.
		log.Info(envAdminUsername + " is set without " + envAdminPassword + ": no admin is created")
		return nil
	case username == "":
		log.Warn(envAdminPassword + " is set without " + envAdminUsername + ": no admin is created")
		return nil
	}
	existing, err := users.FindUserByUsername(ctx, username)
	switch {
	case err == nil:
		if existing.Admin {
			log.Info("the admin from "+envAdminUsername+" exists; left unchanged", "username", existing.Username)
		} else {
			log.Warn("the user named by "+envAdminUsername+" exists but is not an admin; left unchanged", "username", existing.Username)
		}
		return nil
	case !errors.Is(err, bookstore.ErrNotFound):
		return fmt.Errorf("look up the first admin: %w", err)
	}
	u, err := auth.NewUser(ctx, h, policy, username, password, true, time.Now())
	if err != nil {
		return fmt.Errorf("%s/%s: %s", envAdminUsername, envAdminPassword, clientMessage(err))
	}
	created, err := users.CreateFirstAdmin(ctx, u)
	switch {
	case errors.Is(err, bookstore.ErrConflict): // another replica was quicker
		log.Info("the admin from "+envAdminUsername+" exists; left unchanged", "username", username)
		return nil
	case err != nil:
		return fmt.Errorf("create the first admin: %w", err)
	case !created:
		log.Info("the database has an admin: "+envAdminUsername+" and "+envAdminPassword+" are ignored", "username", username)
		return nil
	}
	log.Info("created the first admin", "username", u.Username, "user_id", u.ID.String())
	return nil
}

// clientMessage is the message of a domain error without its kind
// ("password is too common", not "invalid: password is too common").
func clientMessage(err error) string {
	var de *bookstore.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}
