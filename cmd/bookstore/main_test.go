package main

import (
	"context"
	"github.com/bookstore/bookstore/internal/proctest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
)

// fastArgon2 makes a hash cost microseconds instead of the defaults' tens
// of milliseconds; the hashing itself is tested in internal/auth.
func fastArgon2() auth.Argon2Params {
	return auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// NewTestMain returns a Main configured as the binary would be from env,
// listening on 127.0.0.1:0 with a new database of the engine under test (see
// testDatabase) unless env says otherwise. Its log goes to the returned buffer and the test log.
func NewTestMain(tb testing.TB, env map[string]string) (*Main, *proctest.Buffer) {
	tb.Helper()
	full := map[string]string{
		"BOOKSTORE_ADDR":         "127.0.0.1:0",
		"BOOKSTORE_DATABASE_URL": testDatabase(tb),
	}
	for k, v := range env {
		full[k] = v
	}
	cfg, err := parseServeConfig(nil, full)
	if err != nil {
		tb.Fatal(err)
	}
	logs := &proctest.Buffer{}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, tb.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMain(cfg, log)
	m.argon2 = fastArgon2()
	return m, logs
}

// MustRunMain starts m and waits until it serves the API; the test's
// cleanup shuts it down and fails the test if that fails.
func MustRunMain(tb testing.TB, m *Main) {
	tb.Helper()
	go m.Run(context.Background()) // its error comes back from Close
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	waitServing(tb, m)
}

// waitServing waits until m serves the API (with PostgreSQL, a moment after
// it listens).
func waitServing(tb testing.TB, m *Main) {
	tb.Helper()
	select {
	case <-m.Serving():
	case <-m.Done():
		tb.Fatalf("Run: %v", m.Close())
	case <-time.After(20 * time.Second):
		tb.Fatal("the server did not serve the API within 20 s")
	}
}

func newClient(tb testing.TB, addr string) *oapi.ClientWithResponses {
	tb.Helper()
	c, err := oapi.NewClientWithResponses("http://" + addr)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func bearer(token string) oapi.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// login logs username in and returns the token pair.
func login(tb testing.TB, c *oapi.ClientWithResponses, username, password string) oapi.TokenPair {
	tb.Helper()
	res, err := c.LoginWithResponse(tb.Context(), oapi.LoginRequest{Username: username, Password: password})
	if err != nil {
		tb.Fatal(err)
	}
	if res.JSON200 == nil {
		tb.Fatalf("login %s: status %d: %s", username, res.StatusCode(), res.Body)
	}
	return *res.JSON200
}

// TestEndToEnd walks the seed's flow through the generated client against
// the real program: register, log in, create a book, list, log out, and the
// token is refused afterwards.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	m, logs := NewTestMain(t, nil)
	MustRunMain(t, m)
	c := newClient(t, m.Addr())
	ctx := t.Context()

	reg, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if reg.JSON201 == nil || reg.JSON201.Username != "alice" || reg.JSON201.Admin {
		t.Fatalf("register: status %d: %s", reg.StatusCode(), reg.Body)
	}
	if loc := reg.HTTPResponse.Header.Get("Location"); loc != "/users/"+reg.JSON201.Id.String() {
		t.Errorf("Location = %q", loc)
	}

	tokens := login(t, c, "alice", goodPassword)
	if tokens.TokenType != oapi.Bearer || tokens.ExpiresIn < 890 || tokens.ExpiresIn > 900 {
		t.Errorf("token pair: type %q, expires_in %d; want Bearer, 900", tokens.TokenType, tokens.ExpiresIn)
	}
	auth := bearer(tokens.AccessToken)

	created, err := c.CreateBookWithResponse(ctx, nil, oapi.BookCreate{
		Title: "The Hobbit", Author: "J. R. R. Tolkien", Publisher: "George Allen & Unwin", PriceCents: 1299,
		Isbn: nullable.NewNullableWithValue("978-0-261-10221-7"), PublishedYear: nullable.NewNullableWithValue(1937),
	}, auth)
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON201 == nil {
		t.Fatalf("create: status %d: %s", created.StatusCode(), created.Body)
	}
	if isbn, _ := created.JSON201.Isbn.Get(); isbn != "9780261102217" {
		t.Errorf("isbn = %q; want it as ISBN-13", isbn)
	}

	list, err := c.ListBooksWithResponse(ctx, nil, auth)
	if err != nil {
		t.Fatal(err)
	}
	if list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Id != created.JSON201.Id {
		t.Fatalf("list: status %d: %s", list.StatusCode(), list.Body)
	}

	out, err := c.LogoutWithResponse(ctx, oapi.LogoutRequest{}, auth)
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout: status %d: %s", out.StatusCode(), out.Body)
	}

	after, err := c.ListBooksWithResponse(ctx, nil, auth)
	if err != nil {
		t.Fatal(err)
	}
	if after.StatusCode() != http.StatusUnauthorized || !strings.HasPrefix(after.HTTPResponse.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("after logout: status %d, WWW-Authenticate %q: %s", after.StatusCode(), after.HTTPResponse.Header.Get("WWW-Authenticate"), after.Body)
	}
	if ct := after.HTTPResponse.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("after logout: Content-Type %q; want application/problem+json", ct)
	}

	// Nothing secret reaches the log.
	log := logs.String()
	for _, secret := range []string{goodPassword, tokens.AccessToken, tokens.RefreshToken, "$argon2id$"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !strings.Contains(log, `"msg":"listening","addr":"`+m.Addr()+`","docs":"http://`+m.Addr()+`/docs/"`) {
		t.Errorf("the log does not show the listening address and the documentation's URL")
	}
}

// TestGracefulShutdown holds a login in flight while the server is told to
// stop: the listener closes at once, the login still gets its answer, and
// only then does Run return, with nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	m, _ := NewTestMain(t, nil)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	m.wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/auth/login" {
				once.Do(func() { close(started) })
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	waitServing(t, m)
	addr := m.Addr()
	c := newClient(t, addr)
	if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
		t.Fatalf("register: %v %v", res, err)
	}

	type result struct {
		res *oapi.LoginResponse
		err error
	}
	loggedIn := make(chan result, 1)
	go func() {
		res, err := c.LoginWithResponse(context.Background(), oapi.LoginRequest{Username: "alice", Password: goodPassword})
		loggedIn <- result{res, err}
	}()
	<-started
	cancel() // what SIGINT or SIGTERM does in run

	// New connections are refused while the login is still running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 5 s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-runErr:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}

	close(release)
	r := <-loggedIn
	if r.err != nil || r.res.StatusCode() != http.StatusOK || r.res.JSON200 == nil {
		t.Fatalf("the in-flight login: %v, %v", r.res, r.err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the last request finished")
	}
}

// TestShutdownTimeout: a request that outlives the grace period is cut off,
// and Run says so.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	m, _ := NewTestMain(t, nil)
	m.ShutdownTimeout = 100 * time.Millisecond
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	m.wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	waitServing(t, m)
	go http.Get("http://" + m.Addr() + "/healthz")
	<-started
	cancel()
	if err := <-runErr; err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("Run = %v; want an error saying requests were cut off", err)
	}
}

// TestAdminFromEnvironment: the first admin is created once; a restart with
// the same variables leaves it alone.
func TestAdminFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BOOKSTORE_DATABASE_URL":   testDatabase(t),
		"BOOKSTORE_ADMIN_USERNAME": "root",
		"BOOKSTORE_ADMIN_PASSWORD": goodPassword,
	}
	for start := range 2 {
		m, logs := NewTestMain(t, env)
		MustRunMain(t, m)
		c := newClient(t, m.Addr())
		tokens := login(t, c, "root", goodPassword)
		users, err := c.ListUsersWithResponse(t.Context(), nil, bearer(tokens.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if users.JSON200 == nil || len(users.JSON200.Items) != 1 || !users.JSON200.Items[0].Admin {
			t.Fatalf("start %d: list users: status %d: %s", start, users.StatusCode(), users.Body)
		}
		want := "created the first admin"
		if start > 0 {
			want = "exists; left unchanged"
		}
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start %d: the log does not say %q", start, want)
		}
		if strings.Contains(logs.String(), goodPassword) {
			t.Errorf("start %d: the log contains the admin password", start)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdminFromEnvironmentRefusesAWeakPassword(t *testing.T) {
	t.Parallel()
	m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_ADMIN_USERNAME": "root", "BOOKSTORE_ADMIN_PASSWORD": "password1234567"})
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "BOOKSTORE_ADMIN_PASSWORD") || strings.Contains(err.Error(), "password1234567") {
		t.Fatalf("Run = %v; want an error naming BOOKSTORE_ADMIN_PASSWORD without repeating it", err)
	}
}

func TestStartupErrors(t *testing.T) {
	t.Parallel()
	// The address is taken by another listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_ADDR": ln.Addr().String()})
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("Run on a used address = %v; want an error saying so", err)
	}
	// The database directory does not exist.
	m, _ = NewTestMain(t, map[string]string{"BOOKSTORE_DATABASE_URL": filepath.Join(t.TempDir(), "missing", "bookstore.db")})
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Run on a missing directory = %v; want an error saying so", err)
	}
}

// waitListening waits for run, started with stderr as its log and status
// for its exit status, to log that it listens, and returns the address.
func waitListening(t *testing.T, stderr *proctest.Buffer, status <-chan int) string {
	t.Helper()
	return waitLog(t, stderr, status, regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`))[1]
}

// waitLog waits for run's log to match re and returns the match.
func waitLog(t *testing.T, stderr *proctest.Buffer, status <-chan int, re *regexp.Regexp) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m
		}
		select {
		case s := <-status:
			t.Fatalf("run exited with %d before its log matched %s:\n%s", s, re, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not match %s after 10 s:\n%s", re, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeStopsOnSIGTERM runs the program as main does and sends the
// process SIGTERM. Not parallel: the signal goes to the whole test binary,
// and only run's handler may be listening for it.
func TestServeStopsOnSIGTERM(t *testing.T) {
	env := map[string]string{
		"BOOKSTORE_ADDR":         "127.0.0.1:0",
		"BOOKSTORE_DATABASE_URL": testDatabase(t),
	}
	stderr := &proctest.Buffer{}
	status := make(chan int, 1)
	go func() {
		status <- run(context.Background(), []string{"serve"}, strings.NewReader(""), io.Discard, stderr, envFunc(env))
	}()
	waitListening(t, stderr, status)
	// Listening is logged after run registered for the signal.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-status:
		if s != 0 {
			t.Fatalf("exit status %d; want 0:\n%s", s, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"database closed"`) {
		t.Errorf("the log does not show the database closing:\n%s", stderr)
	}
}

// TestThrottleSettings checks the wiring of BOOKSTORE_THROTTLE and
// BOOKSTORE_TRUSTED_PROXIES; the throttle itself is tested in
// internal/auth and internal/httpapi.
func TestThrottleSettings(t *testing.T) {
	t.Parallel()
	failLogins := func(t *testing.T, c *oapi.ClientWithResponses, n int) (last *oapi.LoginResponse) {
		for range n {
			res, err := c.LoginWithResponse(t.Context(), oapi.LoginRequest{Username: "alice", Password: "not the password at all"})
			if err != nil {
				t.Fatal(err)
			}
			last = res
		}
		return last
	}
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		m, _ := NewTestMain(t, nil)
		MustRunMain(t, m)
		res := failLogins(t, newClient(t, m.Addr()), 11)
		if res.StatusCode() != http.StatusTooManyRequests || res.HTTPResponse.Header.Get("Retry-After") == "" {
			t.Errorf("11th failed login: status %d, Retry-After %q; want 429 with Retry-After", res.StatusCode(), res.HTTPResponse.Header.Get("Retry-After"))
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		m, logs := NewTestMain(t, map[string]string{"BOOKSTORE_THROTTLE": "off"})
		MustRunMain(t, m)
		if res := failLogins(t, newClient(t, m.Addr()), 11); res.StatusCode() != http.StatusUnauthorized {
			t.Errorf("11th failed login: status %d; want 401", res.StatusCode())
		}
		if !strings.Contains(logs.String(), `"level":"WARN","msg":"throttling is off`) {
			t.Errorf("no warning that throttling is off")
		}
	})
	t.Run("trusted proxies", func(t *testing.T) {
		t.Parallel()
		m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_TRUSTED_PROXIES": "127.0.0.0/8"})
		MustRunMain(t, m)
		c := newClient(t, m.Addr())
		if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
			t.Fatalf("register: %v %v", res, err)
		}
		forwarded := func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			return nil
		}
		res, err := c.LoginWithResponse(t.Context(), oapi.LoginRequest{Username: "alice", Password: goodPassword}, forwarded)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("login: %v %v", res, err)
		}
		sessions, err := c.ListMySessionsWithResponse(t.Context(), bearer(res.JSON200.AccessToken))
		if err != nil || sessions.JSON200 == nil || len(sessions.JSON200.Items) != 1 {
			t.Fatalf("sessions: %v %v", sessions, err)
		}
		if ip := sessions.JSON200.Items[0].Ip; ip != "203.0.113.7" {
			t.Errorf("session ip = %q; want the forwarded client 203.0.113.7", ip)
		}
	})
	t.Run("account limit", func(t *testing.T) {
		t.Parallel()
		m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_TRUSTED_PROXIES": "127.0.0.0/8",
			"BOOKSTORE_THROTTLE_ACCOUNT_LIMIT": "3"})
		MustRunMain(t, m)
		c := newClient(t, m.Addr())
		if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
			t.Fatalf("register: %v %v", res, err)
		}
		login := func(ip, password string) int {
			res, err := c.LoginWithResponse(t.Context(), oapi.LoginRequest{Username: "alice", Password: password},
				func(_ context.Context, req *http.Request) error {
					req.Header.Set("X-Forwarded-For", ip)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			return res.StatusCode()
		}
		for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
			login(ip, "not the password at all")
		}
		if got := login("10.0.0.4", goodPassword); got != http.StatusTooManyRequests {
			t.Errorf("the right password from a fourth address after the account's 3 failures: %d; want 429", got)
		}
	})
}

// TestDebugListener: with BOOKSTORE_DEBUG_ADDR the profiler answers on that
// address and only there; the API's address does not route to it. A bare
// :PORT means loopback, and without the setting there is no listener.
func TestDebugListener(t *testing.T) {
	m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_DEBUG_ADDR": "127.0.0.1:0"})
	MustRunMain(t, m)
	debug := m.DebugAddr()
	if debug == "" || debug == m.Addr() {
		t.Fatalf("DebugAddr = %q (API %q): want a listener of its own", debug, m.Addr())
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1", "/debug/pprof/profile?seconds=1"} {
		status, _, body := get(t, "http://"+debug+path)
		if status != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s on the debug address: %d, %d bytes", path, status, len(body))
		}
		if status, _, _ := get(t, "http://"+m.Addr()+path); status != http.StatusNotFound {
			t.Errorf("GET %s on the API's address: %d, want 404", path, status)
		}
	}

	cfg, err := parseServeConfig(nil, map[string]string{"BOOKSTORE_DEBUG_ADDR": ":6061"})
	if err != nil || cfg.DebugAddr != "127.0.0.1:6061" {
		t.Errorf("BOOKSTORE_DEBUG_ADDR=:6061 gives %q, %v; want loopback", cfg.DebugAddr, err)
	}
	if _, err := parseServeConfig(nil, map[string]string{"BOOKSTORE_DEBUG_ADDR": "6061"}); err == nil || !strings.Contains(err.Error(), "BOOKSTORE_DEBUG_ADDR") {
		t.Errorf("BOOKSTORE_DEBUG_ADDR=6061: %v, want an error naming the variable", err)
	}
	off, _ := NewTestMain(t, nil)
	MustRunMain(t, off)
	if off.DebugAddr() != "" {
		t.Errorf("without BOOKSTORE_DEBUG_ADDR the profiler listens at %s", off.DebugAddr())
	}
}
