package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/proctest"
)

// engine is the database the tests of this package run on: SQLite, or
// PostgreSQL with BOOKSTORE_TEST_ENGINE=postgres (see pgtest).
var engine string

func TestMain(m *testing.M) {
	// The replica tests run this test binary as the program itself: one
	// process per replica (see startReplica).
	if os.Getenv(envRunAsBookstore) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	var err error
	if engine, err = pgtest.Engine(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	proctest.Cleanup() // the binary the real-binary tests built
	os.Exit(code)
}

// testDatabase returns BOOKSTORE_DATABASE_URL for a new, empty database of
// the engine under test that lives as long as tb: a file in tb.TempDir(),
// or a PostgreSQL schema of its own.
func testDatabase(tb testing.TB) string {
	tb.Helper()
	if engine == pgtest.Postgres {
		_, dbURL := pgtest.Schema(tb)
		return dbURL
	}
	return filepath.Join(tb.TempDir(), "bookstore.db")
}

// openTestStore opens and migrates the database that database (a value
// of BOOKSTORE_DATABASE_URL) names, as the program does; closed when tb ends.
func openTestStore(tb testing.TB, database string) store {
	tb.Helper()
	f := newFlagSet("test", envFunc(map[string]string{"BOOKSTORE_DATABASE_URL": database}), databaseSettings()...)
	d, err := f.database()
	if err != nil {
		tb.Fatal(err)
	}
	db, err := openDatabase(context.Background(), d)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// pgProxy stands between a server and PostgreSQL so that a test can take
// the database away. Down, it cuts every connection and closes new ones at
// once, as a crashed database or a broken network would; up, it forwards.
type pgProxy struct {
	ln     net.Listener
	target string // host:port of PostgreSQL

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]bool
}

// newPGProxy starts a proxy to the server of dbURL, up or down.
func newPGProxy(tb testing.TB, dbURL string, up bool) *pgProxy {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		tb.Skipf("the fault tests need a postgres://HOST:PORT/... URL in %s", pgtest.EnvURL)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, up: up, conns: map[net.Conn]bool{}}
	go p.serve()
	tb.Cleanup(func() {
		ln.Close()
		p.set(false)
	})
	return p
}

// url is dbURL pointed at the proxy, with a password: one the tests
// check never reaches a log. (With trust authentication the server does
// not ask for it.)
func (p *pgProxy) url(dbURL string) (proxied, password string) {
	u, _ := url.Parse(dbURL)
	u.Host = p.ln.Addr().String()
	password, ok := u.User.Password()
	if !ok {
		password = "pr0xy-pa55word"
		u.User = url.UserPassword(u.User.Username(), password)
	}
	return u.String(), password
}

// set brings the database back (true) or takes it away (false).
func (p *pgProxy) set(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// track registers c while the proxy is up, else closes it.
func (p *pgProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.up {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *pgProxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *pgProxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.forget(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.forget(server)
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.Close()
		close(done)
	}()
	io.Copy(client, server)
	client.Close()
	<-done
}

// get sends a GET and returns the status, the Content-Type and the body.
func get(tb testing.TB, url string) (status int, header http.Header, body string) {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// want503 checks a 503 problem document with Retry-After.
func want503(tb testing.TB, what string, status int, header http.Header, body string) {
	tb.Helper()
	if status != http.StatusServiceUnavailable || header.Get("Content-Type") != "application/problem+json" ||
		header.Get("Retry-After") == "" || !strings.Contains(body, `"/problems/unavailable"`) {
		tb.Errorf("%s: %d %s, Retry-After %q: %s; want a 503 problem with Retry-After",
			what, status, header.Get("Content-Type"), header.Get("Retry-After"), body)
	}
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestPostgresDownAtStart starts the server while its PostgreSQL is down:
// it listens anyway, is live but not ready, answers the API with 503
// problems, logs why and retries; once the database is up it migrates and
// serves, with nobody restarting it.
func TestPostgresDownAtStart(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Schema(t)
	proxy := newPGProxy(t, dbURL, false)
	proxied, password := proxy.url(dbURL)
	m, logs := NewTestMain(t, map[string]string{"BOOKSTORE_DATABASE_URL": proxied, "BOOKSTORE_DB_CONNECT_TIMEOUT": "1s"})
	m.retryMax = 100 * time.Millisecond
	go m.Run(context.Background())
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case <-m.Done():
		t.Fatalf("Run: %v", m.Close())
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10 s with the database down")
	}
	base := "http://" + m.Addr()

	if status, _, body := get(t, base+"/healthz"); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz while the database is down: %d %s; want 200", status, body)
	}
	status, header, body := get(t, base+"/readyz")
	want503(t, "/readyz while the database is down", status, header, body)
	status, header, body = get(t, base+"/books")
	want503(t, "/books while the database is down", status, header, body)
	c := newClient(t, m.Addr())
	if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 503 {
		t.Errorf("register while the database is down: %v %v", res.StatusCode(), err)
	}
	if !waitFor(5*time.Second, func() bool { return strings.Count(logs.String(), `"msg":"the database is not ready; retrying"`) >= 2 }) {
		t.Fatalf("no retries logged:\n%s", logs)
	}
	select {
	case <-m.Serving():
		t.Fatal("serving the API without a database")
	default:
	}

	proxy.set(true)
	waitServing(t, m)
	if status, _, body := get(t, base+"/readyz"); status != 200 {
		t.Errorf("/readyz once the database is up: %d %s", status, body)
	}
	if res, err := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
		t.Fatalf("register once the database is up: %v %v", res, err)
	}
	login(t, c, "alice", goodPassword)
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the database password")
	}
}

// TestPostgresConnectionLost takes the database away from a running server
// and brings it back: meanwhile requests that need it get 503 problems
// (never a 500 or a 401), /readyz says not ready and /healthz stays live;
// afterwards the server carries on by itself, sessions intact.
func TestPostgresConnectionLost(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Schema(t)
	proxy := newPGProxy(t, dbURL, true)
	proxied, password := proxy.url(dbURL)
	m, logs := NewTestMain(t, map[string]string{"BOOKSTORE_DATABASE_URL": proxied, "BOOKSTORE_DB_CONNECT_TIMEOUT": "1s"})
	MustRunMain(t, m)
	base := "http://" + m.Addr()
	c := newClient(t, m.Addr())
	ctx := t.Context()
	if res, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
		t.Fatalf("register: %v %v", res, err)
	}
	tokens := login(t, c, "alice", goodPassword)
	auth := bearer(tokens.AccessToken)
	if res, err := c.CreateBookWithResponse(ctx, nil, oapi.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, auth); err != nil || res.StatusCode() != 201 {
		t.Fatalf("create: %v %v", res, err)
	}

	proxy.set(false)
	for i := range 3 {
		res, err := c.ListBooksWithResponse(ctx, nil, auth)
		if err != nil {
			t.Fatal(err)
		}
		want503(t, fmt.Sprintf("list books #%d without the database", i+1), res.StatusCode(), res.HTTPResponse.Header, string(res.Body))
	}
	if res, err := c.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 503 {
		t.Errorf("login without the database: %v %v", res.StatusCode(), err)
	}
	if res, err := c.CreateBookWithResponse(ctx, nil, oapi.BookCreate{Title: "Lost", Author: "A", Publisher: "P", PriceCents: 1}, auth); err != nil {
		t.Fatal(err)
	} else {
		want503(t, "create without the database", res.StatusCode(), res.HTTPResponse.Header, string(res.Body))
	}
	status, header, body := get(t, base+"/readyz")
	want503(t, "/readyz without the database", status, header, body)
	if status, _, body := get(t, base+"/healthz"); status != 200 {
		t.Errorf("/healthz without the database: %d %s", status, body)
	}

	proxy.set(true)
	if !waitFor(10*time.Second, func() bool { s, _, _ := get(t, base+"/readyz"); return s == 200 }) {
		t.Fatal("/readyz not 200 within 10 s of the database coming back")
	}
	res, err := c.ListBooksWithResponse(ctx, nil, auth)
	if err != nil || res.JSON200 == nil || len(res.JSON200.Items) != 1 || res.JSON200.Items[0].Title != "Dune" {
		t.Fatalf("list books after the database came back: %v %v", res.StatusCode(), err)
	}
	if res, err := c.CreateBookWithResponse(ctx, nil, oapi.BookCreate{Title: "Back", Author: "A", Publisher: "P", PriceCents: 1}, auth); err != nil || res.StatusCode() != 201 {
		t.Fatalf("create after the database came back: %v %v", res.StatusCode(), err)
	}
	log := logs.String()
	if strings.Contains(log, password) {
		t.Errorf("the log shows the database password")
	}
	if strings.Contains(log, `"status":500`) || strings.Contains(log, "panic") {
		t.Errorf("the log shows a 500 or a panic:\n%s", log)
	}
}
