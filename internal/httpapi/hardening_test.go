package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// panickyStore panics on FindBookByID, as a bug deep in a handler would.
type panickyStore struct{ bookstore.Store }

func (panickyStore) FindBookByID(context.Context, uuid.UUID) (bookstore.Book, error) {
	panic("boom: internal detail that must not leak")
}

func TestPanicBecomesProblemAndServerKeepsServing(t *testing.T) {
	api := newTestAPI(t, func(o *apiOptions) {
		o.wrapStore = func(db bookstore.Store) bookstore.Store { return panickyStore{db} }
	})
	api.allow5xx = true
	alice := api.register("alice")
	res, body := api.do("GET", "/books/"+uuid.NewString(), jsonHeader(alice.Access), "")
	if res.StatusCode != 500 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "boom") || strings.Contains(string(body), "goroutine") {
		t.Errorf("the panic leaked: %s", body)
	}
	if !strings.Contains(api.Logs.String(), "boom") {
		t.Error("the panic was not logged")
	}
	if r, _ := api.Client.GetCurrentUserWithResponse(context.Background(), alice.Auth()); r.StatusCode() != 200 {
		t.Errorf("the server stopped serving: %d", r.StatusCode())
	}
}

// unavailableStore answers like a locked or full database.
type unavailableStore struct{ bookstore.Store }

func (unavailableStore) ListBooks(context.Context, bookstore.BookFilter) ([]bookstore.Book, error) {
	return nil, &bookstore.Error{Kind: bookstore.ErrUnavailable, Message: "the database is temporarily unavailable"}
}

func TestUnavailableDatabaseIs503(t *testing.T) {
	api := newTestAPI(t, func(o *apiOptions) {
		o.wrapStore = func(db bookstore.Store) bookstore.Store { return unavailableStore{db} }
	})
	api.allow5xx = true
	alice := api.register("alice")
	r, err := api.Client.ListBooksWithResponse(context.Background(), &oapi.ListBooksParams{}, alice.Auth())
	if err != nil || r.StatusCode() != 503 || r.HTTPResponse.Header.Get("Retry-After") == "" {
		t.Fatalf("%v %d %s", err, r.StatusCode(), r.Body)
	}
}

func TestCORS(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		api := newTestAPI(t)
		res, _ := api.do("GET", "/healthz", http.Header{"Origin": {"https://app.example.com"}}, "")
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("CORS answered without configuration")
		}
	})
	t.Run("allow-listed origins", func(t *testing.T) {
		api := newTestAPI(t, func(o *apiOptions) { o.cors = []string{"https://app.example.com"} })
		pre := http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type"}}
		res, _ := api.do("OPTIONS", "/books", pre, "")
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
		}
		res, _ = api.do("GET", "/healthz", http.Header{"Origin": {"https://app.example.com"}}, "")
		if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "ETag") {
			t.Errorf("simple request: %v", res.Header)
		}
		res, _ = api.do("GET", "/healthz", http.Header{"Origin": {"https://evil.example"}}, "")
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("an origin off the list was allowed")
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	res, _ := api.do("GET", "/users/me", jsonHeader(alice.Access), "")
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

// TestContentSecurityPolicy: API answers and problem documents are data a
// browser must never run or frame; the docs page has its own policy.
func TestContentSecurityPolicy(t *testing.T) {
	const apiCSP = "default-src 'none'; frame-ancestors 'none'"
	api := newTestAPI(t)
	alice := api.register("alice")
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/users/me", alice.Access, "", 200},
		{"GET", "/openapi.yaml", "", "", 200},
		{"HEAD", "/books", alice.Access, "", 200},
		{"GET", "/users/me", "", "", 401},
		{"POST", "/books", alice.Access, `{"title":`, 400},
		{"GET", "/nowhere", "", "", 404},
		{"PUT", "/books", alice.Access, "", 405},
		{"OPTIONS", "/books", "", "", 204},
	} {
		res, body := api.do(c.method, c.path, jsonHeader(c.token), c.body)
		if res.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, res.StatusCode, c.status, body)
		}
		if got := res.Header.Get("Content-Security-Policy"); got != apiCSP {
			t.Errorf("%s %s (%d): Content-Security-Policy %q, want %q", c.method, c.path, res.StatusCode, got, apiCSP)
		}
	}
	res, _ := api.do("GET", "/docs/", nil, "")
	if got := res.Header.Values("Content-Security-Policy"); res.StatusCode != 200 || len(got) != 1 || got[0] == apiCSP || !strings.Contains(got[0], "frame-ancestors 'none'") {
		t.Errorf("/docs/: %d, Content-Security-Policy %q: want its own, one policy", res.StatusCode, got)
	}
}
