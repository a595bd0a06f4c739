package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// specOperation is one operation of the spec with a request that reaches it.
type specOperation struct {
	id, method, path string
	op               *openapi3.Operation
	// params are the path item's parameters and the operation's.
	params openapi3.Parameters
}

func specOperations(t *testing.T) []specOperation {
	t.Helper()
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	var ops []specOperation
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			concrete := param.ReplaceAllString(path, "01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f")
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			ops = append(ops, specOperation{op.OperationID, method, concrete, op, params})
		}
	}
	return ops
}

func secured(op *openapi3.Operation, global openapi3.SecurityRequirements) bool {
	reqs := global
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return false
	}
	for _, r := range reqs {
		if len(r) == 0 {
			return false // an empty requirement makes authentication optional
		}
	}
	return true
}

// TestEverySecuredOperationNeedsAToken walks the spec: every operation that
// requires a token answers 401 without one, and every admin-only operation
// answers 403 to a non-admin.
func TestEverySecuredOperationNeedsAToken(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	spec, _ := httpapi.LoadSpec()
	var nSecured, nAdmin int
	for _, so := range specOperations(t) {
		if !secured(so.op, spec.Security) {
			continue
		}
		nSecured++
		body, ctype := "", ""
		if so.op.RequestBody != nil {
			for mt := range so.op.RequestBody.Value.Content {
				ctype = mt
			}
			body = `{}`
		}
		h := http.Header{}
		if ctype != "" {
			h.Set("Content-Type", ctype)
		}
		t.Run(so.id, func(t *testing.T) {
			res, b := api.do(so.method, so.path, h, body)
			if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("without a token: %d %q %s", res.StatusCode, res.Header.Get("WWW-Authenticate"), b)
			}
			if so.op.Extensions["x-admin-only"] != true {
				return
			}
			nAdmin++
			// A valid body, so only the caller's rights decide.
			switch so.id {
			case "updateUser":
				body = `{"admin": true}`
			case "setUserPassword":
				body = `{"password": "` + strongPassword + `"}`
			}
			h.Set("Authorization", "Bearer "+alice.Access)
			res, b = api.do(so.method, so.path, h, body)
			if res.StatusCode != 403 {
				t.Errorf("as a non-admin: %d %s", res.StatusCode, b)
			}
		})
	}
	if nSecured < 15 || nAdmin != 4 {
		t.Fatalf("walked %d secured and %d admin-only operations; the spec has more", nSecured, nAdmin)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	if r, err := api.Client.GetHealthWithResponse(ctx); err != nil || r.JSON200 == nil || r.JSON200.Status != "ok" {
		t.Fatalf("healthz: %v %s", err, r.Body)
	}
	if r, err := api.Client.GetReadinessWithResponse(ctx); err != nil || r.JSON200 == nil {
		t.Fatalf("readyz: %v %s", err, r.Body)
	}
	r, err := api.Client.GetOpenApiSpecWithResponse(ctx)
	if err != nil || r.StatusCode() != 200 || !strings.HasPrefix(string(r.Body), "openapi: 3.0.3") {
		t.Fatalf("openapi.yaml: %v %.100s", err, r.Body)
	}
	// GET / sends a browser to the documentation.
	noFollow := *api.HTTP
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	root, err := oapi.NewClientWithResponses(api.URL, oapi.WithHTTPClient(&noFollow))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := root.GetRootWithResponse(ctx); err != nil || r.StatusCode() != http.StatusFound || r.HTTPResponse.Header.Get("Location") != "/docs/" {
		t.Errorf("GET /: %v %v, Location %q; want 302 to /docs/", err, r.Status(), r.HTTPResponse.Header.Get("Location"))
	}
	if res, _ := api.do("GET", "/", nil, ""); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src") {
		t.Errorf("GET / followed: %d; want the Swagger UI page", res.StatusCode)
	}
	res, _ := api.do("GET", "/nowhere", nil, "")
	if res.StatusCode != 404 {
		t.Errorf("unknown path: %d", res.StatusCode)
	}
	res, _ = api.do("PUT", "/books", nil, "")
	if res.StatusCode != 405 {
		t.Errorf("wrong method: %d", res.StatusCode)
	}
	for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy", "X-Request-ID"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	// A sane request id is echoed; an unsafe one is replaced.
	res, _ = api.do("GET", "/healthz", http.Header{"X-Request-ID": {"abc-123"}}, "")
	if res.Header.Get("X-Request-ID") != "abc-123" {
		t.Errorf("request id not echoed: %q", res.Header.Get("X-Request-ID"))
	}
	res, _ = api.do("GET", "/healthz", http.Header{"X-Request-ID": {"a\"b<script>"}}, "")
	if id := res.Header.Get("X-Request-ID"); id == "" || strings.ContainsAny(id, "\"<") {
		t.Errorf("unsafe request id echoed: %q", id)
	}
}

// TestBadInput sends malformed and hostile requests: each gets a 4xx
// problem document naming the problem, never a 5xx (the harness checks).
func TestBadInput(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	created, _ := api.Client.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	bookPath := "/books/" + created.JSON201.Id.String()
	valid := `{"title":"T","author":"A","publisher":"P","price_cents":100}`
	with := func(field, value string) string {
		return strings.Replace(valid, `"title":"T"`, `"title":"T",`+`"`+field+`":`+value, 1)
	}
	auth := jsonHeader(alice.Access)
	cases := []struct {
		name, method, path string
		header             http.Header
		body               string
		status             int
		field              string // a field the problem must name
	}{
		{"malformed JSON", "POST", "/books", auth, `{"title":`, 400, ""},
		{"not an object", "POST", "/books", auth, `[1,2]`, 400, ""},
		{"wrong content type", "POST", "/books", http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer " + alice.Access}}, valid, 415, ""},
		{"no content type", "POST", "/books", http.Header{"Authorization": {"Bearer " + alice.Access}}, valid, 415, ""},
		{"2 MiB body", "POST", "/books", auth, `{"title":"` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
		{"negative price", "POST", "/books", auth, strings.Replace(valid, "100", "-5", 1), 400, "price_cents"},
		{"price too high", "POST", "/books", auth, strings.Replace(valid, "100", "1000000001", 1), 400, "price_cents"},
		{"price not an integer", "POST", "/books", auth, strings.Replace(valid, "100", "1.5", 1), 400, "price_cents"},
		{"price huge number", "POST", "/books", auth, strings.Replace(valid, "100", "1e400", 1), 400, ""},
		{"1 KB title", "POST", "/books", auth, strings.Replace(valid, `"T"`, `"`+strings.Repeat("t", 1<<10)+`"`, 1), 400, "title"},
		{"10 KB title (over the operation's body limit)", "POST", "/books", auth, strings.Replace(valid, `"T"`, `"`+strings.Repeat("t", 10<<10)+`"`, 1), 413, ""},
		{"NUL in title", "POST", "/books", auth, strings.Replace(valid, `"T"`, `"a\u0000b"`, 1), 400, "title"},
		{"newline in author", "POST", "/books", auth, strings.Replace(valid, `"A"`, `"a\nb"`, 1), 400, "author"},
		{"empty publisher", "POST", "/books", auth, strings.Replace(valid, `"P"`, `""`, 1), 400, "publisher"},
		{"blank publisher", "POST", "/books", auth, strings.Replace(valid, `"P"`, `"   "`, 1), 400, "publisher"},
		{"missing title", "POST", "/books", auth, strings.Replace(valid, `"title":"T",`, ``, 1), 400, "title"},
		{"bad ISBN check digit", "POST", "/books", auth, with("isbn", `"978-0-441-17271-0"`), 400, "isbn"},
		{"ISBN letters", "POST", "/books", auth, with("isbn", `"ISBN 12345"`), 400, "isbn"},
		{"year out of range", "POST", "/books", auth, with("published_year", `10000`), 400, "published_year"},
		{"server-owned id", "POST", "/books", auth, with("id", `"01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f"`), 400, "id"},
		{"server-owned owner_id", "POST", "/books", auth, with("owner_id", `"01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f"`), 400, "owner_id"},
		{"server-owned created_at", "POST", "/books", auth, with("created_at", `"2020-01-01T00:00:00Z"`), 400, "created_at"},
		{"unknown field", "POST", "/books", auth, with("colour", `"red"`), 400, "colour"},
		{"bad UUID in path", "GET", "/books/not-a-uuid", auth, "", 400, "path.id"},
		{"UUID with junk", "GET", "/books/01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f-x", auth, "", 400, "path.id"},
		{"limit=0", "GET", "/books?limit=0", auth, "", 400, "query.limit"},
		{"limit=101", "GET", "/books?limit=101", auth, "", 400, "query.limit"},
		{"limit=abc", "GET", "/books?limit=abc", auth, "", 400, "query.limit"},
		{"unknown sort", "GET", "/books?sort=author", auth, "", 400, "query.sort"},
		{"bad cursor", "GET", "/books?cursor=%25%25", auth, "", 400, "query.cursor"},
		{"forged cursor", "GET", "/books?cursor=eyJpIjoiMDE5MzZmNGUtOGMxYS03ZDJiLTlmM2UtNWE2YjdjOGQ5ZTBmIn0AAAAAAAAAAAAAAAAAAAAA", auth, "", 400, "query.cursor"},
		{"bad owner", "GET", "/books?owner=me", auth, "", 400, "query.owner"},
		{"bad If-Match is a stale ETag", "PATCH", bookPath, http.Header{"Content-Type": {"application/merge-patch+json"}, "Authorization": {"Bearer " + alice.Access}, "If-Match": {"garbage"}}, `{"title":"x"}`, 412, ""},
		{"Idempotency-Key with spaces", "POST", "/books", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + alice.Access}, "Idempotency-Key": {"a b"}}, valid, 400, "header.Idempotency-Key"},
		{"register with wrong types", "POST", "/auth/register", jsonHeader(""), `{"username":5,"password":true}`, 400, "username"},
		{"login with extra field", "POST", "/auth/login", jsonHeader(""), `{"username":"a","password":"b","remember":true}`, 400, "remember"},
		{"refresh with empty body", "POST", "/auth/refresh", jsonHeader(""), ``, 400, ""},
		{"invalid UTF-8", "POST", "/books", auth, strings.Replace(valid, `"T"`, "\"\xff\xfe\"", 1), 400, ""},
		{"duplicate keys", "POST", "/books", auth, strings.Replace(valid, `"title":"T"`, `"title":"T","title":"`+strings.Repeat("x", 300)+`"`, 1), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := api.do(c.method, c.path, c.header, c.body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %.300s", res.StatusCode, c.status, body)
			}
			p := problemOf(t, body)
			if c.field != "" {
				named := false
				if p.Errors != nil {
					for _, f := range *p.Errors {
						named = named || f.Field == c.field
					}
				}
				if !named {
					t.Errorf("problem does not name %q: %s", c.field, body)
				}
			}
		})
	}
	// Nothing above changed alice's catalogue.
	r, _ := api.Client.ListBooksWithResponse(context.Background(), &oapi.ListBooksParams{}, alice.Auth())
	if len(r.JSON200.Items) != 1 || r.JSON200.Items[0].Title != "Dune" {
		t.Errorf("bad input changed the data: %s", r.Body)
	}
}
