package httpapi_test

import (
	"context"
	"encoding/json"
	"github.com/bookstore/bookstore/internal/proctest"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/demo"
)

// mustStartDemo runs the real API with metrics, its log in the returned buffer.
func mustStartDemo(t *testing.T) (*demo.Server, *proctest.Buffer) {
	t.Helper()
	logs := &proctest.Buffer{}
	srv, err := demo.Start(demo.Options{Metrics: true, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, logs
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestMetrics(t *testing.T) {
	srv, _ := mustStartDemo(t)
	ctx := context.Background()
	c, err := oapi.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const password = "tangerine walrus under glass"
	if res, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: password}); err != nil || res.JSON201 == nil {
		t.Fatalf("register: %v", err)
	}
	if res, _ := c.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: "wrong wrong wrong wrong"}); res.StatusCode() != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode())
	}
	login, err := c.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: password})
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v", err)
	}
	// Refresh once, then present the spent token again: reuse, session revoked.
	refresh := oapi.RefreshTokenJSONRequestBody{RefreshToken: login.JSON200.RefreshToken}
	if res, _ := c.RefreshTokenWithResponse(ctx, refresh); res.JSON200 == nil {
		t.Fatalf("refresh: %d", res.StatusCode())
	}
	if res, _ := c.RefreshTokenWithResponse(ctx, refresh); res.StatusCode() != 401 {
		t.Fatalf("reuse: %d", res.StatusCode())
	}
	// A book id in the path must not become a label.
	get(t, srv.URL+"/books/01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f", nil)
	get(t, srv.URL+"/no/such/path/42", nil)

	res, body := get(t, srv.URL+"/metrics", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`bookstore_http_requests_total{code="201",operation="registerUser"} 1`,
		`bookstore_http_requests_total{code="401",operation="login"} 1`,
		`bookstore_http_requests_total{code="200",operation="login"} 1`,
		`bookstore_http_requests_total{code="401",operation="getBook"} 1`,
		`bookstore_http_requests_total{code="404",operation="unmatched"} 1`,
		`bookstore_http_request_duration_seconds_count{operation="login"} 2`,
		`bookstore_http_request_duration_seconds_count{operation="deleteBook"} 0`, // every operation, from the start
		`bookstore_http_requests_in_flight 0`,
		`bookstore_logins_total{result="succeeded"} 1`,
		`bookstore_logins_total{result="failed"} 1`,
		`bookstore_refresh_token_reuse_total 1`,
		`bookstore_session_revocations_total{reason="refresh_reuse"} 1`,
		`bookstore_session_revocations_total{reason="logout"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, raw := range []string{"01936f4e", "/no/such", "/books"} {
		if strings.Contains(body, raw) {
			t.Errorf("a raw path got into a label: %s", raw)
		}
	}
	// /metrics and /docs are not API operations and are not counted as such.
	if strings.Contains(body, `operation="metrics"`) {
		t.Error("/metrics counted as an operation")
	}
	if res, _ := get(t, srv.URL+"/docs/", nil); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("GET /docs/: %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	req, _ := http.NewRequest("POST", srv.URL+"/metrics", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 405 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST /metrics: %v %v", err, res)
	}
}

// Without metrics configured there is no /metrics: it is an unknown path.
func TestNoMetrics(t *testing.T) {
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if res, _ := get(t, srv.URL+"/metrics", nil); res.StatusCode != 404 {
		t.Errorf("GET /metrics without metrics: %d", res.StatusCode)
	}
}

// A sane X-Request-ID is kept, anything else replaced; the id is echoed, is
// the problem's instance, and is on every log line of the request,
// including the audit events the handlers write.
func TestRequestIDs(t *testing.T) {
	srv, logs := mustStartDemo(t)
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "req-42.a_B", true},
		{"too long", strings.Repeat("a", 65), false},
		{"unsafe characters", `a"b<script>`, false},
		{"none", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if c.sent != "" {
				h.Set("X-Request-ID", c.sent)
			}
			req, _ := http.NewRequest("POST", srv.URL+"/auth/login", strings.NewReader(`{"username":"nobody","password":"whatever it is"}`))
			req.Header = h
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			id := res.Header.Get("X-Request-ID")
			if c.kept && id != c.sent {
				t.Fatalf("X-Request-ID %q, want %q kept", id, c.sent)
			}
			if !c.kept && (id == "" || id == c.sent || len(id) > 64) {
				t.Fatalf("X-Request-ID %q: want a new id", id)
			}
			var p oapi.Problem
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 401 {
				t.Fatalf("status %d, %v", res.StatusCode, err)
			}
			if p.Instance == nil || *p.Instance != id {
				t.Errorf("problem instance %v, want %q", p.Instance, id)
			}
			events := map[string]bool{}
			for line := range strings.Lines(logs.String()) {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) != nil || !strings.Contains(line, id) {
					continue
				}
				if rec["request_id"] != id {
					t.Errorf("log line without the request id: %s", line)
				}
				events[rec["msg"].(string)] = true
			}
			if !events["login failed"] || !events["request"] {
				t.Errorf("want the audit event and the request line with request_id %s; got %v in\n%s", id, events, logs.String())
			}
		})
	}
}

// Public operations never look at an access token: contradictory token
// headers, an empty bearer token or a garbage one change nothing (the spec
// declares no 400 or 401 for them).
func TestPublicOperationsIgnoreTokens(t *testing.T) {
	api := newTestAPI(t)
	for _, h := range []http.Header{
		{"Authorization": {"Bearer one"}, "X-Access-Tokens": {"two"}},
		{"Authorization": {"Bearer"}},
		{"X-Access-Tokens": {"not a token"}},
	} {
		for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml", "/.well-known/jwks.json"} {
			if res, body := api.do("GET", path, h, ""); res.StatusCode != 200 {
				t.Errorf("GET %s with %v: %d %s", path, h, res.StatusCode, body)
			}
		}
	}
}
