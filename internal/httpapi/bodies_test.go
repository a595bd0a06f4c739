package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// amplificationBody is the hostile body of issue 9: a valid-looking login
// followed by as many empty objects as fit in size bytes, each of which
// would cost a map in a generic decoder.
func amplificationBody(size int) string {
	const head, tail = `{"username":"x","password":"y","z":[`, `{}]}`
	n := (size - len(head) - len(tail)) / 3
	return head + strings.Repeat(`{},`, n) + tail
}

// countingBody counts the bytes the server reads of a request body.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestBodyLimitsComeFromTheSchemas: every operation that takes a body has a
// limit derived from its schema, far below the 1 MiB ceiling.
func TestBodyLimitsComeFromTheSchemas(t *testing.T) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	limits := httpapi.BodyByteLimits(spec)
	for _, so := range specOperations(t) {
		lim, ok := limits[so.id]
		if (so.op.RequestBody != nil) != ok {
			t.Errorf("%s: takes a body %v, has a limit %v", so.id, so.op.RequestBody != nil, ok)
			continue
		}
		if !ok {
			continue
		}
		want := int64(16 << 10) // books and anything else
		if strings.HasPrefix(so.path, "/auth/") || strings.HasPrefix(so.path, "/users/") {
			want = 4 << 10 // credentials, tokens, flags
		}
		if lim < 1<<10 || lim > want || lim > httpapi.MaxBodyBytes {
			t.Errorf("%s: body limit %d bytes, want 1 KiB to %d", so.id, lim, want)
		}
	}
}

// TestSecuredOperationAuthenticatesBeforeReadingTheBody sends the 1 MiB
// amplification body to secured operations through the real handler and
// counts the bytes it reads: none without a valid token, none when
// Content-Length is over the operation's limit, and no more than the limit
// when the length is not announced.
func TestSecuredOperationAuthenticatesBeforeReadingTheBody(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	created, err := api.Client.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	if err != nil || created.JSON201 == nil {
		t.Fatal(err)
	}
	spec, _ := httpapi.LoadSpec()
	limits := httpapi.BodyByteLimits(spec)
	hostile := amplificationBody(1 << 20)
	cases := []struct {
		name, method, path, ctype, token string
		announced                        bool
		status                           int
		maxRead                          int64
	}{
		{"no token, POST /books", "POST", "/books", "application/json", "", true, 401, 0},
		{"no token, chunked POST /books", "POST", "/books", "application/json", "", false, 401, 0},
		{"invalid token, POST /books", "POST", "/books", "application/json", "not-a-token", true, 401, 0},
		{"no token, PATCH /books/{id}", "PATCH", "/books/" + created.JSON201.Id.String(), "application/merge-patch+json", "", true, 401, 0},
		{"no token, PUT /users/me/password", "PUT", "/users/me/password", "application/json", "", true, 401, 0},
		{"valid token, over the limit by Content-Length", "POST", "/books", "application/json", alice.Access, true, 413, 0},
		{"valid token, chunked over the limit", "POST", "/books", "application/json", alice.Access, false, 413, limits["createBook"] + 1},
		{"no body operation, GET /books with a body", "GET", "/books", "application/json", alice.Access, true, 200, 0},
		{"public operation, over the limit by Content-Length", "POST", "/auth/login", "application/json", "", true, 413, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(hostile)}
			req := httptest.NewRequest(c.method, "http://bookstore"+c.path, body)
			req.ContentLength = -1
			if c.announced {
				req.ContentLength = int64(len(hostile))
			}
			req.Header.Set("Content-Type", c.ctype)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			api.handler.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, c.status, rec.Body)
			}
			if got := body.read.Load(); got > c.maxRead {
				t.Errorf("the server read %d bytes of the body, want at most %d", got, c.maxRead)
			}
		})
	}
}

// TestPerOperationBodyLimits: a body within the 1 MiB ceiling but over its
// operation's limit is refused with 413 naming the limit; the largest body
// the schema allows, every character escaped and pretty-printed, passes.
func TestPerOperationBodyLimits(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	padded := func(valid string, size int) string { return valid + strings.Repeat(" ", size-len(valid)) }
	for _, c := range []struct {
		name, path, token, body string
	}{
		{"login", "/auth/login", "", padded(`{"username":"alice","password":"`+strongPassword+`"}`, 8<<10)},
		{"register", "/auth/register", "", padded(`{"username":"bob","password":"`+strongPassword+`"}`, 8<<10)},
		{"refresh", "/auth/refresh", "", padded(`{"refresh_token":"`+alice.Refresh+`"}`, 8<<10)},
		{"create book", "/books", alice.Access, padded(`{"title":"T","author":"A","publisher":"P","price_cents":1}`, 64<<10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := api.do("POST", c.path, jsonHeader(c.token), c.body)
			p := problemOf(t, body)
			if res.StatusCode != 413 || p.Type != "/problems/payload-too-large" || !strings.Contains(p.Detail, "for this operation") {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
	}
	// Nothing was created by the refused register.
	if _, err := api.Store.FindUserByUsername(context.Background(), "bob"); err == nil {
		t.Error("a refused registration created the user")
	}

	// The largest book: 200 characters per text field, each written as a
	// surrogate pair of \u escapes, indented.
	long := strings.Repeat(`\ud83d\udcda`, 200)
	book := "{\n    \"title\": \"" + long + "\",\n    \"author\": \"" + long + "\",\n    \"publisher\": \"" + long +
		"\",\n    \"price_cents\": 1000000000,\n    \"isbn\": \"978-0-261-10221-7\",\n    \"published_year\": 1937\n}\n"
	res, body := api.do("POST", "/books", jsonHeader(alice.Access), book)
	if res.StatusCode != 201 {
		t.Fatalf("the largest valid book: %d %s", res.StatusCode, body)
	}
	var b oapi.Book
	if err := json.Unmarshal(body, &b); err != nil || len([]rune(b.Title)) != 200 {
		t.Errorf("title not stored whole: %v %.100s", err, body)
	}
}

// TestJSONScanLimits: bodies within the byte limit but deep, numerous or
// with overlong strings are refused by the scan, before any generic
// decoding, with the problem that names the limit.
func TestJSONScanLimits(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	deep := `{"title":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`
	cases := []struct {
		name, path, token, body string
		status                  int
		problemType, detail     string
	}{
		{"deep nesting, login", "/auth/login", "", deep, 400, "/problems/malformed-request", "nests deeper"},
		{"deep nesting, book", "/books", alice.Access, deep, 400, "/problems/malformed-request", "nests deeper"},
		{"many values, login", "/auth/login", "", amplificationBody(3000), 413, "/problems/payload-too-large", "JSON values"},
		{"many values, register", "/auth/register", "", amplificationBody(3000), 413, "/problems/payload-too-large", "JSON values"},
		{"many values, book", "/books", alice.Access, amplificationBody(8000), 413, "/problems/payload-too-large", "JSON values"},
		{"long string, login", "/auth/login", "", `{"username":"alice","password":"` + strings.Repeat("p", 1000) + `"}`, 400, "/problems/validation", "password"},
		{"long key, book", "/books", alice.Access, `{"` + strings.Repeat("k", 1000) + `":1}`, 400, "/problems/validation", "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := api.do("POST", c.path, jsonHeader(c.token), c.body)
			p := problemOf(t, body)
			if res.StatusCode != c.status || string(p.Type) != c.problemType || !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
	}
}

// TestTrailingDataIsRefused: every operation that takes JSON refuses
// anything but whitespace after the first JSON value, and writes nothing.
func TestTrailingDataIsRefused(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	admin := api.admin("root")
	created, err := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	if err != nil || created.JSON201 == nil {
		t.Fatal(err)
	}
	bookPath := "/books/" + created.JSON201.Id.String()
	book := `{"title":"Emma","author":"Jane Austen","publisher":"Murray","price_cents":500}`
	login := `{"username":"alice","password":"` + strongPassword + `"}`
	bodies := map[string]struct {
		method, path, token, ctype, body string
	}{
		"registerUser":    {"POST", "/auth/register", "", "", `{"username":"bob","password":"` + strongPassword + `"}`},
		"login":           {"POST", "/auth/login", "", "", login},
		"refreshToken":    {"POST", "/auth/refresh", "", "", `{"refresh_token":"` + alice.Refresh + `"}`},
		"logout":          {"POST", "/auth/logout", alice.Access, "", `{"refresh_token":"` + alice.Refresh + `"}`},
		"changePassword":  {"PUT", "/users/me/password", alice.Access, "", `{"current_password":"` + strongPassword + `","new_password":"an entirely different passphrase 7"}`},
		"updateUser":      {"PATCH", "/users/" + alice.ID, admin.Access, "application/merge-patch+json", `{"admin":true}`},
		"setUserPassword": {"PUT", "/users/" + alice.ID + "/password", admin.Access, "", `{"password":"an entirely different passphrase 8"}`},
		"createBook":      {"POST", "/books", alice.Access, "", book},
		"updateBook":      {"PATCH", bookPath, alice.Access, "application/merge-patch+json", `{"title":"Changed"}`},
	}
	for _, so := range specOperations(t) {
		if so.op.RequestBody != nil {
			if _, ok := bodies[so.id]; !ok {
				t.Errorf("%s takes a body but is not tested here", so.id)
			}
		}
	}
	for id, c := range bodies {
		for name, trailer := range map[string]string{
			"garbage":       " garbage",
			"second object": " " + c.body,
			"a number":      "\n1",
			"a NUL":         "\x00",
		} {
			t.Run(id+"/"+name, func(t *testing.T) {
				h := jsonHeader(c.token)
				if c.ctype != "" {
					h.Set("Content-Type", c.ctype)
				}
				res, body := api.do(c.method, c.path, h, c.body+trailer)
				p := problemOf(t, body)
				if res.StatusCode != 400 || p.Type != "/problems/malformed-request" {
					t.Fatalf("%d %s", res.StatusCode, body)
				}
			})
		}
	}

	// Nothing was written: no user, no book, no change, no new session, and
	// the refresh token and the password still work.
	if _, err := api.Store.FindUserByUsername(ctx, "bob"); err == nil {
		t.Error("a registration with trailing data created the user")
	}
	list, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, alice.Auth())
	if list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Title != "Dune" || list.JSON200.Items[0].Id != created.JSON201.Id {
		t.Errorf("books changed: %s", list.Body)
	}
	if me, _ := api.Client.GetUserWithResponse(ctx, created.JSON201.OwnerId, admin.Auth()); me.JSON200 == nil || me.JSON200.Admin {
		t.Errorf("alice changed: %s", me.Body)
	}
	sessions, _ := api.Client.ListMySessionsWithResponse(ctx, alice.Auth())
	if sessions.JSON200 == nil || len(sessions.JSON200.Items) != 1 {
		t.Errorf("sessions changed: %s", sessions.Body)
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: alice.Refresh}); r.JSON200 == nil {
		t.Errorf("the refresh token was spent or revoked: %d %s", r.StatusCode(), r.Body)
	}
	api.login("alice", strongPassword)

	// Trailing whitespace is fine.
	res, body := api.do("POST", "/books", jsonHeader(alice.Access), book+" \r\n\t ")
	if res.StatusCode != 201 {
		t.Errorf("trailing whitespace: %d %s", res.StatusCode, body)
	}
}

// TestBodyLimitDerivation: bounded schemas give small limits that grow with
// their bounds; a schema without a bound falls back to the 1 MiB ceiling.
func TestBodyLimitDerivation(t *testing.T) {
	limits := func(t *testing.T, schema string) int64 {
		t.Helper()
		doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{"operationId":"x",
			"requestBody":{"content":{"application/json":{"schema":` + schema + `}}},"responses":{"204":{"description":"ok"}}}}}}`
		spec, err := openapi3.NewLoader().LoadFromData([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return httpapi.BodyByteLimits(spec)["x"]
	}
	closed := func(props string) string {
		return `{"type":"object","additionalProperties":false,"properties":{` + props + `}}`
	}
	small := limits(t, closed(`"a":{"type":"string","maxLength":10}`))
	larger := limits(t, closed(`"a":{"type":"string","maxLength":1000}`))
	array := limits(t, closed(`"a":{"type":"array","maxItems":100,"items":{"type":"integer"}}`))
	enum := limits(t, closed(`"a":{"type":"string","enum":["x","yy"]},"b":{"type":"boolean","nullable":true}`))
	if small != 1<<10 || larger <= small || larger > 16<<10 || array <= small || array > 16<<10 || enum != 1<<10 {
		t.Errorf("bounded: %d, %d, %d, %d", small, larger, array, enum)
	}
	for name, schema := range map[string]string{
		"string without maxLength": closed(`"a":{"type":"string"}`),
		"array without maxItems":   closed(`"a":{"type":"array","items":{"type":"integer"}}`),
		"open object":              `{"type":"object","properties":{"a":{"type":"integer"}}}`,
		"no type":                  closed(`"a":{}`),
		"huge maxLength":           closed(`"a":{"type":"string","maxLength":10000000}`),
	} {
		if got := limits(t, schema); got != httpapi.MaxBodyBytes {
			t.Errorf("%s: %d, want the ceiling %d", name, got, httpapi.MaxBodyBytes)
		}
	}
}
