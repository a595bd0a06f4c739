package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// The benchmarks of this file call the real handler in-process (no
// network, no client): every middleware, the spec validation, the
// operation and a real SQLite file, with a JSON logger writing to
// io.Discard so the log line is built as in production. Profile one with
//
//	go test -run '^$' -bench HTTPListBooks -cpuprofile cpu.out ./internal/httpapi

// benchAPI is the handler over a database of users × books, and one caller.
type benchAPI struct {
	handler http.Handler
	store   *sqlite.DB
	token   string      // the caller's access token
	books   []uuid.UUID // the caller's books
}

func newBenchAPI(b *testing.B, users, booksPerUser int) *benchAPI {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bookstore.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	key, err := auth.NewHS256Key(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	keyring, err := auth.NewKeyring([]bookstore.SigningKey{key}, auth.DefaultAccessTTL)
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := auth.NewAccessTokens(auth.AccessTokenConfig{Keyring: keyring, AccessTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := auth.NewHasher(cheapArgon2, 2)
	if err != nil {
		b.Fatal(err)
	}
	policy, err := auth.NewPasswordPolicy(15)
	if err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.NewHandler(httpapi.Config{
		Store: db, Tokens: tokens, Hasher: hasher, Policy: policy,
		RefreshTTL: 720 * time.Hour, CursorKey: bytes.Repeat([]byte{7}, 32),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}

	hash, err := hasher.Hash(ctx, strongPassword)
	if err != nil {
		b.Fatal(err)
	}
	api := &benchAPI{handler: h, store: db}
	now := time.Now().UTC().Truncate(time.Millisecond)
	caller := users / 2 // among the others, not the first or last
	year := 1937
	for i := range users {
		u := bookstore.User{ID: uuid.Must(uuid.NewV7()), Username: fmt.Sprintf("bench%05d", i), PasswordHash: hash, CreatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		for n := range booksPerUser {
			created := now.Add(time.Duration(n) * time.Millisecond)
			book, err := db.CreateBook(ctx, bookstore.Book{
				ID: uuid.Must(uuid.NewV7()), OwnerID: u.ID, Title: "The Hobbit, volume " + strconv.Itoa(n),
				Author: "J. R. R. Tolkien", Publisher: "HarperCollins", PriceCents: 1299, PublishedYear: &year,
				Version: 1, CreatedAt: created, UpdatedAt: created,
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if i == caller {
				api.books = append(api.books, book.ID)
			}
		}
		if i == caller {
			_, refreshHash, err := auth.NewRefreshToken()
			if err != nil {
				b.Fatal(err)
			}
			s := bookstore.Session{ID: uuid.Must(uuid.NewV7()), UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(720 * time.Hour)}
			if err := db.CreateSession(ctx, s, refreshHash, 0); err != nil {
				b.Fatal(err)
			}
			if api.token, _, err = tokens.Issue(u.ID, s.ID, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return api
}

// discardWriter is the cheapest http.ResponseWriter that still records
// the status and the body size.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// serve runs req through the handler b.N times; body, when not nil, is
// sent anew every time. next, when not nil, adjusts the request after
// each response (an ETag chain).
func (api *benchAPI) serve(b *testing.B, req *http.Request, body []byte, want int, next func(w *discardWriter, req *http.Request)) {
	b.Helper()
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		api.handler.ServeHTTP(w, req)
		if w.status != want {
			b.Fatalf("%s %s: status %d, want %d", req.Method, req.URL, w.status, want)
		}
		if next != nil {
			next(w, req)
		}
	}
	b.ReportMetric(float64(w.n), "resp-bytes")
}

func (api *benchAPI) request(method, target, contentType string) *http.Request {
	req, _ := http.NewRequest(method, "http://127.0.0.1"+target, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+api.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// BenchmarkHTTPUsersMe is the authentication middleware with its session
// check (token verify + one indexed read) and the smallest operation.
func BenchmarkHTTPUsersMe(b *testing.B) {
	api := newBenchAPI(b, 50, 0)
	api.serve(b, api.request("GET", "/users/me", ""), nil, http.StatusOK, nil)
}

// BenchmarkHTTPListBooks is the list of `make bench`: the caller's 20
// books among 50 users' 1,000.
func BenchmarkHTTPListBooks(b *testing.B) {
	api := newBenchAPI(b, 50, 20)
	api.serve(b, api.request("GET", "/books", ""), nil, http.StatusOK, nil)
}

// BenchmarkHTTPGetBook reads one book.
func BenchmarkHTTPGetBook(b *testing.B) {
	api := newBenchAPI(b, 50, 20)
	api.serve(b, api.request("GET", "/books/"+api.books[7].String(), ""), nil, http.StatusOK, nil)
}

// BenchmarkHTTPCreateBook is POST /books end to end: body check, spec
// validation, decoding, one insert transaction.
func BenchmarkHTTPCreateBook(b *testing.B) {
	api := newBenchAPI(b, 50, 0)
	body := []byte(`{"title":"The Hobbit","author":"J. R. R. Tolkien","publisher":"HarperCollins","price_cents":1299,"published_year":1937}`)
	api.serve(b, api.request("POST", "/books", "application/json"), body, http.StatusCreated, nil)
}

// BenchmarkHTTPUpdateBook is a merge-patch PATCH with If-Match, following
// the ETag chain.
func BenchmarkHTTPUpdateBook(b *testing.B) {
	api := newBenchAPI(b, 50, 1)
	req := api.request("PATCH", "/books/"+api.books[0].String(), "application/merge-patch+json")
	req.Header.Set("If-Match", `"1"`)
	api.serve(b, req, []byte(`{"price_cents":999}`), http.StatusOK, func(w *discardWriter, req *http.Request) {
		req.Header.Set("If-Match", w.header.Get("ETag"))
	})
}

// BenchmarkValidateCreateBook is kin-openapi's request validation of a
// create body alone, against the served spec.
func BenchmarkValidateCreateBook(b *testing.B) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		b.Fatal(err)
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"title":"The Hobbit","author":"J. R. R. Tolkien","publisher":"HarperCollins","price_cents":1299,"isbn":"978-0-261-10221-7","published_year":1937}`)
	req, _ := http.NewRequest("POST", "http://127.0.0.1/books", nil)
	req.Header.Set("Content-Type", "application/json")
	route, params, err := router.FindRoute(req)
	if err != nil {
		b.Fatal(err)
	}
	opts := &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindRoute is kin-openapi's router (gorilla/mux over the spec)
// finding GET /books/{id}, which the validator does on every request.
func BenchmarkFindRoute(b *testing.B) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		b.Fatal(err)
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1/books/"+uuid.Must(uuid.NewV7()).String(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := router.FindRoute(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeBookPage is the JSON encoding of a page of 20 books by
// the generated strict handler (encoding/json over oapi.BookPage): what
// listBooks wrote before bookjson.go, the reference for
// BenchmarkWriteBookPage (bookjson_bench_test.go), which is the same page
// as it is written now.
func BenchmarkEncodeBookPage(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	owner := uuid.Must(uuid.NewV7())
	page := oapi.BookPage{NextCursor: nullable.NewNullableWithValue("eyJuIjoxNzk1ODg5MzQ1MDAwLCJpIjoiMDFhMjIzNTgifQ")}
	for n := range 20 {
		page.Items = append(page.Items, oapi.Book{
			Id: uuid.Must(uuid.NewV7()), OwnerId: owner, Title: "The Hobbit, volume " + strconv.Itoa(n),
			Author: "J. R. R. Tolkien", Publisher: "HarperCollins", PriceCents: 1299,
			Isbn: nullable.NewNullableWithValue("9780261102217"), PublishedYear: nullable.NewNullableWithValue(1937),
			CreatedAt: now, UpdatedAt: now,
		})
	}
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		if err := oapi.ListBooks200JSONResponse(page).VisitListBooksResponse(w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.n), "resp-bytes")
}
