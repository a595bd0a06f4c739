package httpapi_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/bookstore/bookstore/internal/proctest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// The spec, parsed once for the whole test binary, and the operations the
// tests saw succeed: TestMain fails the run if an operation has none.
var (
	specRouter routers.Router
	covered    = struct {
		sync.Mutex
		ops map[string]map[int]bool // operationId -> statuses seen
	}{ops: map[string]map[int]bool{}}
	// problemTypes are the problem types the spec lists (ProblemType): the
	// type is an open string for clients, but this server sends only these.
	problemTypes = map[string]bool{}
	// engine is the database the suite runs on: SQLite, or PostgreSQL with
	// BOOKSTORE_TEST_ENGINE=postgres (see pgtest).
	engine string
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if engine, err = pgtest.Engine(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	spec, err := httpapi.LoadSpec()
	if err != nil {
		panic(err)
	}
	spec.Servers = nil
	for _, v := range spec.Components.Schemas["ProblemType"].Value.Enum {
		problemTypes[v.(string)] = true
	}
	if specRouter, err = gorillamux.NewRouter(spec); err != nil {
		panic(err)
	}
	code := m.Run()
	// Only a full run can judge coverage.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if missing := uncoveredOperations(spec); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "operations without a successful test: %s\n", strings.Join(missing, ", "))
			code = 1
		}
		if missing := uncoveredResponses(spec); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, `documented responses no test produced: %s
Every status an operation declares in api/openapi.yaml must be returned by
some test of this package (the harness records each response). For each
pair above: write a test that provokes it (the walks in responses_test.go
produce 400, 413, 415, 500 and 503 from the spec's shape: give a new
operation's body a media-type example and they cover it), or remove the
status from the spec if the server cannot send it; only if no test can
provoke it, add it to untestedResponses in harness_test.go with the reason.
`, strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

func uncoveredOperations(spec *openapi3.T) []string {
	covered.Lock()
	defer covered.Unlock()
	var missing []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ok := false
			for status := range covered.ops[op.OperationID] {
				ok = ok || status < 400 // a redirect is GET /'s success
			}
			if !ok {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// untestedResponses are the documented (operation, status) pairs that no
// test of this package produces, each with the reason. Keep it short: an
// entry is a promise in the spec that nothing checks.
var untestedResponses = map[string]string{
	// These four touch neither the store nor their input: only a bug in the
	// handler itself could panic, and the recovery that turns any panic
	// into this 500 is tested on the operations a faulty store can break
	// (TestEveryOperationWhenTheDatabaseFails, TestPanicBecomesProblem...).
	"getHealth 500":      "no store call, no input: only a panic in the handler",
	"getRoot 500":        "no store call, no input: only a panic in the handler",
	"getOpenApiSpec 500": "no store call, no input: only a panic in the handler",
	"getJwks 500":        "no store call, no input: only a panic in the handler",
}

// uncoveredResponses lists "operationId status" for every response the spec
// documents that no test saw and untestedResponses does not excuse.
func uncoveredResponses(spec *openapi3.T) []string {
	covered.Lock()
	defer covered.Unlock()
	var missing []string
	documented := map[string]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					missing = append(missing, op.OperationID+" "+code+" (not a status: declare each one, no default or 4XX)")
					continue
				}
				pair := op.OperationID + " " + code
				documented[pair] = true
				if !covered.ops[op.OperationID][status] && untestedResponses[pair] == "" {
					missing = append(missing, pair)
				}
			}
		}
	}
	// The allow-list stays true: an entry a test now produces, or that the
	// spec no longer declares, goes.
	for pair := range untestedResponses {
		opID, code, _ := strings.Cut(pair, " ")
		status, _ := strconv.Atoi(code)
		switch {
		case !documented[pair]:
			missing = append(missing, pair+" (in untestedResponses, but not in the spec: remove the entry)")
		case covered.ops[opID][status]:
			missing = append(missing, pair+" (in untestedResponses, but a test produces it: remove the entry)")
		}
	}
	sort.Strings(missing)
	return missing
}

// testAPI is the real server on a real database (a SQLite file, or a
// PostgreSQL schema of its own), reached over HTTP.
type testAPI struct {
	t      testing.TB
	URL    string
	Store  bookstore.Store
	Client *oapi.ClientWithResponses
	HTTP   *http.Client
	Hasher *auth.Hasher
	// allow5xx lets a test that provokes a server-side failure through.
	allow5xx bool
	// Logs holds every log line the server wrote, at debug level.
	Logs *proctest.Buffer
	// handler is the API without the test's response checks, for fuzzing.
	handler http.Handler
}

// cheapArgon2 keeps the suite fast; the cost parameters themselves are
// tested in internal/auth.
var cheapArgon2 = auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type apiOptions struct {
	argon2    auth.Argon2Params
	accessTTL time.Duration
	now       func() time.Time
	keys      []bookstore.SigningKey
	throttle  *auth.ThrottleLimits // nil: throttling off
	proxies   []netip.Prefix
	database  string // reuse a database from newDatabase (a restart, a second replica)
	cors      []string
	wrapStore func(bookstore.Store) bookstore.Store // e.g. to inject faults
	// hashQueueWait bounds the hashing queue (0: a minute). The tests that
	// release hundreds of password checks at once count what the throttle
	// lets through; the production bound (2 s) would turn some of them into
	// 503s on a busy machine. The bound itself is tested with its own value.
	hashQueueWait time.Duration
	maxSessions   int // live sessions per user; 0: no cap
}

// newDatabase returns a new, empty database that lives as long as t: a
// file in t.TempDir(), or a schema of its own on PostgreSQL.
func newDatabase(t testing.TB) string {
	t.Helper()
	if engine == pgtest.Postgres {
		_, dbURL := pgtest.Schema(t)
		return dbURL
	}
	return filepath.Join(t.TempDir(), "bookstore.db")
}

// openStore opens and migrates a database from newDatabase, closed when t
// ends.
func openStore(t testing.TB, database string) app.Store {
	t.Helper()
	ctx := context.Background()
	var db app.Store
	var err error
	if engine == pgtest.Postgres {
		db, err = postgres.Open(ctx, database)
	} else {
		db, err = sqlite.Open(ctx, database)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func newTestAPI(t *testing.T, opt ...func(*apiOptions)) *testAPI { return newTestAPITB(t, opt...) }

// newTestAPIForFuzz is newTestAPI for a fuzz target's setup.
func newTestAPIForFuzz(f *testing.F, opt ...func(*apiOptions)) *testAPI {
	return newTestAPITB(f, opt...)
}

func newTestAPITB(t testing.TB, opt ...func(*apiOptions)) *testAPI {
	t.Helper()
	o := apiOptions{argon2: cheapArgon2, accessTTL: 15 * time.Minute}
	for _, f := range opt {
		f(&o)
	}
	if o.database == "" {
		o.database = newDatabase(t)
	}
	db := openStore(t, o.database)
	keys := o.keys
	if keys == nil {
		k, err := auth.NewHS256Key(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys = []bookstore.SigningKey{k}
	}
	logs := &proctest.Buffer{}
	svc, err := app.New(context.Background(), app.Config{
		Logger:             slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Argon2:             o.argon2,
		HashSlots:          2,
		HashQueueWait:      cmp.Or(o.hashQueueWait, time.Minute),
		MinPasswordLength:  15,
		SigningKeys:        keys,
		AccessTTL:          o.accessTTL,
		RefreshTTL:         720 * time.Hour,
		CursorKey:          bytes.Repeat([]byte{7}, 32),
		Throttle:           o.throttle,
		MaxSessionsPerUser: o.maxSessions,
		TrustedProxies:     o.proxies,
		CORSOrigins:        o.cors,
		Now:                o.now,
		WrapStore:          o.wrapStore,
	}, db)
	if err != nil {
		t.Fatal(err)
	}
	hasher, h := svc.Hasher, svc.Handler
	api := &testAPI{t: t, Store: db, Hasher: hasher, Logs: logs, handler: h}
	srv := httptest.NewServer(api.checkResponses(h))
	t.Cleanup(srv.Close)
	api.URL = srv.URL
	api.HTTP = srv.Client()
	api.Client, err = oapi.NewClientWithResponses(srv.URL, oapi.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// checkResponses validates every response against the spec (status,
// headers, media type and body) and that errors are problem documents.
func (api *testAPI) checkResponses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil {
			reqBody, _ = io.ReadAll(io.LimitReader(r.Body, 4<<20))
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		res := rec.Result()
		body := rec.Body.Bytes()

		if res.StatusCode >= 500 && !api.allow5xx {
			api.t.Errorf("%s %s: status %d: %s", r.Method, r.URL, res.StatusCode, body)
		}
		if res.StatusCode >= 400 {
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			ct := res.Header.Get("Content-Type")
			if ct != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Status != res.StatusCode || p.Type == "" || p.Detail == "" {
				api.t.Errorf("%s %s: status %d is not a problem document (%s): %s", r.Method, r.URL, res.StatusCode, ct, body)
			}
			if !problemTypes[p.Type] {
				api.t.Errorf("%s %s: problem type %q is not in the spec's ProblemType list", r.Method, r.URL, p.Type)
			}
		}
		route, params, err := specRouter.FindRoute(r.Clone(context.Background()))
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
					Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
				Status:  res.StatusCode,
				Header:  res.Header,
				Body:    io.NopCloser(bytes.NewReader(body)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				api.t.Errorf("%s %s: response %d breaks the spec: %v\nbody: %.500s", r.Method, r.URL, res.StatusCode, err, body)
			}
			covered.Lock()
			if covered.ops[route.Operation.OperationID] == nil {
				covered.ops[route.Operation.OperationID] = map[int]bool{}
			}
			covered.ops[route.Operation.OperationID][res.StatusCode] = true
			covered.Unlock()
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(body)
	})
}

// bearer adds an access token to a generated client's request.
func bearer(token string) oapi.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// strongPassword passes the password policy.
const strongPassword = "correct horse battery staple 42"

type account struct {
	ID       string
	Username string
	Password string
	Access   string
	Refresh  string
}

// Auth is the request editor that authenticates as a.
func (a account) Auth() oapi.RequestEditorFn { return bearer(a.Access) }

// register creates a user and logs them in.
func (api *testAPI) register(username string) account {
	api.t.Helper()
	ctx := context.Background()
	res, err := api.Client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: username, Password: strongPassword})
	if err != nil || res.JSON201 == nil {
		api.t.Fatalf("register %s: %v %d %s", username, err, res.StatusCode(), res.Body)
	}
	a := api.login(username, strongPassword)
	a.ID = res.JSON201.Id.String()
	return a
}

func (api *testAPI) login(username, password string) account {
	api.t.Helper()
	res, err := api.Client.LoginWithResponse(context.Background(), oapi.LoginRequest{Username: username, Password: password})
	if err != nil || res.JSON200 == nil {
		api.t.Fatalf("login %s: %v %d %s", username, err, res.StatusCode(), res.Body)
	}
	return account{Username: username, Password: password, Access: res.JSON200.AccessToken, Refresh: res.JSON200.RefreshToken}
}

// admin registers a user and makes them an admin directly in the store.
func (api *testAPI) admin(username string) account {
	api.t.Helper()
	a := api.register(username)
	u, err := api.Store.FindUserByUsername(context.Background(), username)
	if err != nil {
		api.t.Fatal(err)
	}
	if _, err := api.Store.SetUserAdmin(context.Background(), u.ID, true); err != nil {
		api.t.Fatal(err)
	}
	return a
}

// do sends a raw request, for what the generated client will not send.
func (api *testAPI) do(method, path string, header http.Header, body string) (*http.Response, []byte) {
	api.t.Helper()
	req, err := http.NewRequest(method, api.URL+path, strings.NewReader(body))
	if err != nil {
		api.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := api.HTTP.Do(req)
	if err != nil {
		api.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// problemOf decodes a problem document.
func problemOf(t testing.TB, body []byte) oapi.Problem {
	t.Helper()
	var p oapi.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %s", body)
	}
	return p
}

func jsonHeader(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

func newBook(title string) oapi.BookCreate {
	return oapi.BookCreate{Title: title, Author: "Ursula K. Le Guin", Publisher: "Ace", PriceCents: 1299}
}
