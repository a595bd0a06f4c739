package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bookstore/bookstore/internal/httpapi"
)

// While a server waits for its database at start, it is live but not
// ready, and every API request is a 503 problem the spec allows.
func TestStartingHandler(t *testing.T) {
	api := &testAPI{t: t, allow5xx: true}
	srv := httptest.NewServer(api.checkResponses(httpapi.NewStartingHandler()))
	defer srv.Close()
	api.URL, api.HTTP = srv.URL, srv.Client()

	if res, body := api.do("GET", "/healthz", nil, ""); res.StatusCode != 200 {
		t.Errorf("GET /healthz: %d %s", res.StatusCode, body)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/readyz"}, {"GET", "/books"}, {"POST", "/auth/login"}, {"GET", "/nowhere"},
	} {
		res, body := api.do(req.method, req.path, http.Header{"Content-Type": {"application/json"}}, "{}")
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || problemOf(t, body).Type != "/problems/unavailable" {
			t.Errorf("%s %s: %d, Retry-After %q: %s; want a 503 problem with Retry-After",
				req.method, req.path, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
}
