package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// api is a small hand-written client of the bookstore for seeding and for
// scenario set-up. The measured loops build their requests themselves.
type api struct {
	base   string
	client *http.Client
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

type bookOut struct {
	ID string `json:"id"`
}

type bookPage struct {
	Items      []bookOut `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// user is one seeded account and what the benchmark knows of it.
type user struct {
	name, password string
	id             string
	access         string
	books          []string // ids
}

// do sends a request and decodes a JSON answer into out (when not nil). A
// status other than want is an error quoting the body.
func (a *api) do(ctx context.Context, method, path, token, contentType string, body []byte, want int, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: HTTP %d, want %d: %.300s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func credentials(u *user) []byte {
	b, _ := json.Marshal(map[string]string{"username": u.name, "password": u.password})
	return b
}

func (a *api) register(ctx context.Context, u *user) error {
	var out struct {
		ID string `json:"id"`
	}
	if _, err := a.do(ctx, "POST", "/auth/register", "", "application/json", credentials(u), http.StatusCreated, &out); err != nil {
		return err
	}
	u.id = out.ID
	return nil
}

func (a *api) login(ctx context.Context, u *user) (tokenPair, error) {
	var tp tokenPair
	_, err := a.do(ctx, "POST", "/auth/login", "", "application/json", credentials(u), http.StatusOK, &tp)
	return tp, err
}

// createBook creates a book and returns its id and ETag.
func (a *api) createBook(ctx context.Context, token string, body []byte) (id, etag string, err error) {
	var b bookOut
	h, err := a.do(ctx, "POST", "/books", token, "application/json", body, http.StatusCreated, &b)
	if err != nil {
		return "", "", err
	}
	return b.ID, h.Get("ETag"), nil
}

func (a *api) getBookETag(ctx context.Context, token, id string) (string, error) {
	h, err := a.do(ctx, "GET", "/books/"+id, token, "", nil, http.StatusOK, nil)
	if err != nil {
		return "", err
	}
	return h.Get("ETag"), nil
}

// listRaw returns the raw JSON of a page of the caller's books.
func (a *api) listRaw(ctx context.Context, token, query string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/books"+query, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET /books%s: HTTP %d: %.300s", query, resp.StatusCode, raw)
	}
	return raw, err
}

// cursorAt follows next_cursor from the first page to the start of page n
// (1-based) of the caller's books with the given limit, and returns the
// cursor of that page ("" for page 1).
func (a *api) cursorAt(ctx context.Context, token string, limit, n int) (string, error) {
	cursor := ""
	for page := 1; page < n; page++ {
		q := "?limit=" + strconv.Itoa(limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		raw, err := a.listRaw(ctx, token, q)
		if err != nil {
			return "", err
		}
		var p bookPage
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", err
		}
		if p.NextCursor == nil {
			return "", fmt.Errorf("page %d has no next page (want page %d)", page, n)
		}
		cursor = *p.NextCursor
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
