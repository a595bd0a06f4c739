package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// defaultShutdownTimeout is how long in-flight requests get to finish after
// SIGINT or SIGTERM. It stays under the 30 s that Kubernetes and systemd
// wait before killing the process.
const defaultShutdownTimeout = 20 * time.Second

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
	log.Info("starting", "version", version, "gomaxprocs", runtime.GOMAXPROCS(0), "config", m.Config)
	if !m.Config.Throttle {
		log.Warn("throttling is off (BOOKSTORE_THROTTLE=off): failed logins and registrations are not limited; use this for benchmarks only")
	}
	db, err := openStore(ctx, m.Config.Database, m.Tracer, log)
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
	// key and the first admin read from it (or stored in it). What fails on
	// a local store does not mend by waiting, so the start fails at once.
	// A remote one may just not be up yet (it starts after the replicas,
	// or is failing over): the server listens anyway, answers /healthz, and
	// 503 to everything else (/readyz included) while app.Open keeps trying.
	api := &swapHandler{}
	api.set(httpapi.NewStartingHandler())
	var stopChores func()
	defer func() {
		// Registered after the database's Close, so it runs before it.
		if stopChores != nil {
			stopChores()
		}
	}()
	install := func(s *app.Service) {
		h := s.Handler
		if m.wrap != nil {
			h = m.wrap(h)
		}
		api.set(h)
		stopChores = s.StartChores(ctx)
		close(m.serving)
		log.Info("serving the API")
	}
	type opened struct {
		service *app.Service
		err     error
	}
	opening := make(chan opened, 1)
	octx, cancelOpen := context.WithCancel(ctx)
	go func() {
		s, err := app.Open(octx, m.appConfig(), db)
		opening <- opened{s, err}
	}()
	defer func() {
		// Before the database closes: the attempt in progress ends.
		cancelOpen()
		if opening != nil {
			<-opening
		}
	}()
	var installed *app.Service // set once the API is served
	if !db.Remote() {
		o := <-opening
		opening = nil
		if o.err != nil {
			return o.err
		}
		installed = o.service
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
	if installed != nil {
		install(installed)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var failed error // the start failed while listening
wait:
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case o := <-opening:
			opening = nil
			if o.err != nil {
				failed = o.err
				break wait
			}
			install(o.service)
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

// swapHandler serves whichever handler was set last: the starting handler
// until the API is ready, then the API.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
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
