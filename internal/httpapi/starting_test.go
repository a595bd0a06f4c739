package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bookstore/bookstore/internal/httpapi"
)

// While a server waits for its database at start, it is live but not
// ready: the operations that need no database answer as usual, and every
// other one is a 503 problem with Retry-After, which the spec declares.
func TestStartingHandler(t *testing.T) {
	api := &testAPI{t: t, allow5xx: true}
	srv := httptest.NewServer(api.checkResponses(httpapi.NewStartingHandler()))
	defer srv.Close()
	api.URL, api.HTTP = srv.URL, srv.Client()
	api.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	for _, so := range specOperations(t) {
		res, body := api.send(exampleRequestFor(t, so, "a token"))
		if !declares(so.op, 503) {
			if res.StatusCode >= 400 {
				t.Errorf("%s needs no database, yet while starting: %d %.200s", so.id, res.StatusCode, body)
			}
			continue
		}
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || problemOf(t, body).Type != "/problems/unavailable" {
			t.Errorf("%s: %d, Retry-After %q: %s; want a 503 problem with Retry-After",
				so.id, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
	if res, body := api.do("GET", "/nowhere", nil, ""); res.StatusCode != 503 {
		t.Errorf("GET /nowhere: %d %s", res.StatusCode, body)
	}
}
