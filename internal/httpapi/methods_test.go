package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// specAllow is the Allow header the spec implies for each path: its
// methods, HEAD wherever GET is, and OPTIONS.
func specAllow(t *testing.T) map[string][]string {
	t.Helper()
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	allow := map[string][]string{}
	for path, item := range spec.Paths.Map() {
		var methods []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if item.GetOperation(m) != nil {
				methods = append(methods, m)
				if m == "GET" {
					methods = append(methods, "HEAD")
				}
			}
		}
		allow[path] = append(methods, "OPTIONS")
	}
	return allow
}

// TestMethodNotAllowedListsAllow walks every path of the spec with every
// method it lacks: 405 problem with the path's methods in Allow.
func TestMethodNotAllowedListsAllow(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, want := range specAllow(t) {
		concrete := param.ReplaceAllString(path, "01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f")
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"} {
			if slices.Contains(want, m) {
				continue
			}
			n++
			res, body := api.do(m, concrete, jsonHeader(alice.Access), "")
			if res.StatusCode != 405 {
				t.Errorf("%s %s: %d %s", m, path, res.StatusCode, body)
				continue
			}
			if got := res.Header.Get("Allow"); got != strings.Join(want, ", ") {
				t.Errorf("%s %s: Allow %q, want %q", m, path, got, strings.Join(want, ", "))
			}
			if m == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD %s: a body", path)
				}
			} else if p := problemOf(t, body); p.Type != "/problems/method-not-allowed" {
				t.Errorf("%s %s: %s", m, path, body)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d method/path pairs tried", n)
	}
}

// TestHeadWhereverGet: every GET operation of the spec answers HEAD with
// GET's status and headers and no body, authenticated or not.
func TestHeadWhereverGet(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	admin := api.admin("root")
	created, err := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Dune"), admin.Auth())
	if err != nil || created.JSON201 == nil {
		t.Fatal(err)
	}
	ids := map[string]string{"/books/{id}": created.JSON201.Id.String(), "/users/{id}": admin.ID}
	param := regexp.MustCompile(`\{[^}]+\}`)
	spec, _ := httpapi.LoadSpec()
	n := 0
	for template, item := range spec.Paths.Map() {
		if item.Get == nil {
			continue
		}
		n++
		path := template
		if id, ok := ids[template]; ok {
			path = param.ReplaceAllString(template, id)
		} else if param.MatchString(template) {
			t.Fatalf("no id for %s", template)
		}
		for _, token := range []string{admin.Access, ""} {
			get, getBody := api.do("GET", path, jsonHeader(token), "")
			head, headBody := api.do("HEAD", path, jsonHeader(token), "")
			if head.StatusCode != get.StatusCode || len(headBody) != 0 {
				t.Errorf("HEAD %s (token %v): %d with %d body bytes; GET: %d", path, token != "", head.StatusCode, len(headBody), get.StatusCode)
			}
			for _, h := range []string{"Content-Type", "ETag", "Cache-Control", "WWW-Authenticate", "Content-Security-Policy"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("HEAD %s: %s %q, GET has %q", path, h, head.Header.Get(h), get.Header.Get(h))
				}
			}
			if get.StatusCode == 200 && len(getBody) == 0 {
				t.Errorf("GET %s: empty", path)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d GET operations", n)
	}
	// HEAD is read-only: a HEAD to a path without GET is 405.
	if res, _ := api.do("HEAD", "/auth/login", nil, ""); res.StatusCode != 405 {
		t.Errorf("HEAD /auth/login: %d", res.StatusCode)
	}
}

// TestOptionsAnswersAllow: OPTIONS outside a CORS preflight is 204 with the
// path's methods; an unknown path is 404.
func TestOptionsAnswersAllow(t *testing.T) {
	api := newTestAPI(t)
	allow := specAllow(t)
	res, body := api.do("OPTIONS", "/books", nil, "")
	if res.StatusCode != 204 || len(body) != 0 || res.Header.Get("Allow") != strings.Join(allow["/books"], ", ") {
		t.Errorf("OPTIONS /books: %d %q %s", res.StatusCode, res.Header.Get("Allow"), body)
	}
	res, _ = api.do("OPTIONS", "/books/01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f", nil, "")
	if res.StatusCode != 204 || res.Header.Get("Allow") != "GET, HEAD, PATCH, DELETE, OPTIONS" {
		t.Errorf("OPTIONS /books/{id}: %d %q", res.StatusCode, res.Header.Get("Allow"))
	}
	if res, _ := api.do("OPTIONS", "/nowhere", nil, ""); res.StatusCode != 404 {
		t.Errorf("OPTIONS /nowhere: %d", res.StatusCode)
	}
	// With CORS on, a preflight from an allowed origin still gets CORS.
	api = newTestAPI(t, func(o *apiOptions) { o.cors = []string{"https://app.example.com"} })
	res, _ = api.do("OPTIONS", "/books", http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"POST"}}, "")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
}
