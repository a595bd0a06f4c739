package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
)

// fuzzTarget is one in-process server per fuzz target: each input is a
// request to the real handler, and the property is always the same — a
// status below 500, and a problem document for every error.
type fuzzTarget struct {
	api   *testAPI
	alice account
	book  string // the path of one of alice's books
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	api := newTestAPIForFuzz(f)
	alice := api.register("alice")
	created, err := api.Client.CreateBookWithResponse(context.Background(), &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	if err != nil || created.JSON201 == nil {
		f.Fatalf("seed book: %v", err)
	}
	return &fuzzTarget{api: api, alice: alice, book: "/books/" + created.JSON201.Id.String()}
}

func (ft *fuzzTarget) check(t *testing.T, req *http.Request) {
	rec := httptest.NewRecorder()
	ft.api.handler.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var p struct {
			Status int    `json:"status"`
			Type   string `json:"type"`
		}
		if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code || p.Type == "" {
			t.Fatalf("%s %s: %d is not a problem document: %s", req.Method, req.URL, rec.Code, rec.Body)
		}
	}
}

func (ft *fuzzTarget) request(method, target, contentType, body string) *http.Request {
	req := httptest.NewRequest(method, "http://bookstore"+target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+ft.alice.Access)
	return req
}

func FuzzCreateBookBody(f *testing.F) {
	for _, s := range []string{
		`{"title":"T","author":"A","publisher":"P","price_cents":100}`,
		`{"title":"T","author":"A","publisher":"P","price_cents":100,"isbn":"0-261-10236-2","published_year":1937}`,
		`{"title":"T","author":"A","publisher":"P","price_cents":1e400}`,
		`{"title":null}`, `[]`, `{`, ``, `{"title":"\u0000"}`,
		// The scan before decoding: trailing data, depth, many values, long strings and keys.
		`{"title":"T","author":"A","publisher":"P","price_cents":100} garbage`,
		`{"title":"T","author":"A","publisher":"P","price_cents":100}{"title":"U"}`,
		`{"title":"T"}` + "\x00", `{"title":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{"z":[` + strings.Repeat(`{},`, 100) + `{}]}`, `{"` + strings.Repeat("k", 300) + `":1}`, `{"title":"\ud83d\udcda"}`,
	} {
		f.Add(s)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, body string) {
		ft.check(t, ft.request("POST", "/books", "application/json", body))
	})
}

func FuzzRegisterBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"bob","password":"correct horse battery staple 42"}`,
		`{"username":"b","password":"x","admin":true}`, `{"username":5}`, `null`,
		`{"username":"bob","password":"correct horse battery staple 42"} {"username":"eve"}`,
		`{"username":"x","password":"y","z":[` + strings.Repeat(`{},`, 50) + `{}]}`, `[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add(s)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := ft.request("POST", "/auth/register", "application/json", body)
		req.Header.Del("Authorization")
		ft.check(t, req)
	})
}

func FuzzMergePatch(f *testing.F) {
	for _, s := range []string{
		`{"price_cents":5}`, `{"isbn":null}`, `{"published_year":null,"title":"x"}`, `{}`, `{"title":null}`,
		`{"isbn":"978-0-441-17271-9"}`, `{"id":"x"}`, `{"title":"x"} x`, `{"title":"x"}{}`, `{"title":[[[[[[[[]]]]]]]]}`,
	} {
		f.Add(s, `"1"`)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, body, ifMatch string) {
		req := ft.request("PATCH", ft.book, "application/merge-patch+json", body)
		req.Header.Set("If-Match", ifMatch)
		ft.check(t, req)
	})
}

func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"limit=5", "cursor=eyJpIjoieCJ9AAAAAAAAAAAAAAAAAAAAAA", "sort=-title&q=%25", "owner=all", "limit=0", "cursor=%00",
		"author=x&q=y&sort=price_cents&limit=100",
	} {
		f.Add(s)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, query string) {
		if _, err := url.ParseRequestURI("/books?" + query); err != nil || strings.ContainsAny(query, " #") {
			return // not a request line an HTTP client can send
		}
		ft.check(t, ft.request("GET", "/books?"+query, "", ""))
	})
}

func FuzzAccessToken(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "Bearer x", strings.Repeat("a", 9000)} {
		f.Add(s)
	}
	ft := newFuzzTarget(f)
	f.Add(ft.alice.Access)
	f.Fuzz(func(t *testing.T, token string) {
		if strings.ContainsAny(token, "\r\n\x00") {
			return // not a header value
		}
		req := ft.request("GET", "/users/me", "", "")
		req.Header.Set("Authorization", "Bearer "+token)
		ft.check(t, req)
		req = ft.request("GET", "/users/me", "", "")
		req.Header.Del("Authorization")
		req.Header.Set("X-Access-Tokens", token)
		ft.check(t, req)
	})
}
