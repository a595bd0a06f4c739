package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
)

// api is the generated client of the bookstore (gen/oapi), for seeding and
// for scenario set-up. The measured loops build their requests themselves:
// the client's own cost must not count against the server.
// base and client are the server's URL and the HTTP client the measured
// loops send with.
type api struct {
	c      *oapi.ClientWithResponses
	base   string
	client *http.Client
}

func newAPI(base string, client *http.Client) *api {
	c, err := oapi.NewClientWithResponses(base, oapi.WithHTTPClient(client))
	if err != nil {
		panic(err) // only a base URL that does not parse, and ours is built from a port
	}
	return &api{c: c, base: base, client: client}
}

// user is one seeded account and what the benchmark knows of it.
type user struct {
	name, password string
	id             string
	access         string
	books          []string // ids
}

// unexpected is the error of an answer that is not the one wanted, quoting
// its body.
func unexpected(what string, status int, body []byte) error {
	return fmt.Errorf("%s: HTTP %d: %.300s", what, status, body)
}

func withToken(token string) oapi.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func (a *api) register(ctx context.Context, u *user) error {
	r, err := a.c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: u.name, Password: u.password})
	if err != nil {
		return fmt.Errorf("POST /auth/register: %w", err)
	}
	if r.JSON201 == nil {
		return unexpected("POST /auth/register", r.StatusCode(), r.Body)
	}
	u.id = r.JSON201.Id.String()
	return nil
}

func (a *api) login(ctx context.Context, u *user) (oapi.TokenPair, error) {
	r, err := a.c.LoginWithResponse(ctx, oapi.LoginRequest{Username: u.name, Password: u.password})
	if err != nil {
		return oapi.TokenPair{}, fmt.Errorf("POST /auth/login: %w", err)
	}
	if r.JSON200 == nil {
		return oapi.TokenPair{}, unexpected("POST /auth/login", r.StatusCode(), r.Body)
	}
	return *r.JSON200, nil
}

// createBook creates a book from its JSON and returns its id and ETag.
func (a *api) createBook(ctx context.Context, token string, book []byte) (id, etag string, err error) {
	r, err := a.c.CreateBookWithBodyWithResponse(ctx, nil, "application/json", bytes.NewReader(book), withToken(token))
	if err != nil {
		return "", "", fmt.Errorf("POST /books: %w", err)
	}
	if r.JSON201 == nil {
		return "", "", unexpected("POST /books", r.StatusCode(), r.Body)
	}
	return r.JSON201.Id.String(), r.HTTPResponse.Header.Get("ETag"), nil
}

func (a *api) getBookETag(ctx context.Context, token, id string) (string, error) {
	bookID, err := uuid.Parse(id)
	if err != nil {
		return "", err
	}
	r, err := a.c.GetBookWithResponse(ctx, bookID, withToken(token))
	if err != nil {
		return "", fmt.Errorf("GET /books/%s: %w", id, err)
	}
	if r.JSON200 == nil {
		return "", unexpected("GET /books/"+id, r.StatusCode(), r.Body)
	}
	return r.HTTPResponse.Header.Get("ETag"), nil
}

// listPage returns a page of the caller's books: Body is the page as sent.
func (a *api) listPage(ctx context.Context, token string, params oapi.ListBooksParams) (*oapi.ListBooksResponse, error) {
	r, err := a.c.ListBooksWithResponse(ctx, &params, withToken(token))
	if err != nil {
		return nil, fmt.Errorf("GET /books: %w", err)
	}
	if r.JSON200 == nil {
		return nil, unexpected("GET /books", r.StatusCode(), r.Body)
	}
	return r, nil
}

// cursorAt follows next_cursor from the first page to the start of page n
// (1-based) of the caller's books with the given limit, and returns the
// cursor of that page ("" for page 1).
func (a *api) cursorAt(ctx context.Context, token string, limit, n int) (string, error) {
	cursor := ""
	for page := 1; page < n; page++ {
		params := oapi.ListBooksParams{Limit: &limit}
		if cursor != "" {
			params.Cursor = &cursor
		}
		r, err := a.listPage(ctx, token, params)
		if err != nil {
			return "", err
		}
		next, err := r.JSON200.NextCursor.Get()
		if err != nil {
			return "", fmt.Errorf("page %d has no next page (want page %d)", page, n)
		}
		cursor = next
	}
	return cursor, nil
}

// bookBody is the JSON of a create with a distinct title.
func bookBody(worker, n int) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"title":"Benchmark Book `...)
	b = strconv.AppendInt(b, int64(worker), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `","author":"Ada Benchmark","publisher":"Loopback Press","price_cents":`...)
	b = strconv.AppendInt(b, int64(100+n%100000), 10)
	b = append(b, `,"published_year":2001}`...)
	return b
}

// forEach runs fn for 0..n-1 with at most conc at a time and returns the
// first error.
func forEach(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, conc)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}
