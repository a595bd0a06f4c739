package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/bookstore/bookstore/gen/oapi"
)

// credentials is the JSON body of a login as the spec has it.
func credentials(u *user) []byte {
	b, _ := json.Marshal(oapi.LoginRequest{Username: u.name, Password: u.password})
	return b
}

// The measured loops keep the client cheap: GET requests are built once per
// worker and sent again and again; bodies and header values are prepared
// ahead; response bodies are drained into a per-worker buffer and parsed
// only where the next request needs something from them (an ETag, a
// refresh token).

var (
	hdrJSON       = []string{"application/json"}
	hdrMergePatch = []string{"application/merge-patch+json"}
)

func bearer(token string) []string { return []string{"Bearer " + token} }

// send sends req and drains the answer.
func send(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// sendBody sends a request with body and returns the answer's status and
// headers, its body in buf.
func sendBody(ctx context.Context, client *http.Client, method, url string, header http.Header, body []byte, buf *bytes.Buffer) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, err
}

// getScenario repeats one prepared GET per worker (or cycles through a few).
func getScenario(name, note string, client *http.Client, conc int, requests func(w int) ([]*http.Request, error)) scenario {
	return scenario{name: name, note: note, conc: conc, setup: func(ctx context.Context, w int) (step, error) {
		reqs, err := requests(w)
		if err != nil {
			return nil, err
		}
		i := 0
		return func(context.Context) (int, error) {
			req := reqs[i%len(reqs)]
			i++
			return send(client, req)
		}, nil
	}}
}

func newGet(ctx context.Context, url, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header["Authorization"] = bearer(token)
	return req, nil
}

// standardScenarios are the scenarios of `make bench`, over users seeded
// with their books. Worker w acts as users[w % len(users)].
func standardScenarios(ctx context.Context, a *api, users []*user) map[string]scenario {
	client := a.client
	base := a.base
	userOf := func(w int) *user { return users[w%len(users)] }
	var tokens, gets, logins []string
	for _, u := range users {
		tokens = append(tokens, u.access)
		for _, id := range u.books {
			gets = append(gets, u.access+" "+id)
		}
		logins = append(logins, string(credentials(u)))
	}
	plan := func(mode string, lines []string) *wrkPlan { return &wrkPlan{base: base, mode: mode, lines: lines} }
	scs := map[string]scenario{
		"list": getScenario("list", "GET /books: the caller's 20 books", client, 0, func(w int) ([]*http.Request, error) {
			req, err := newGet(ctx, base+"/books", userOf(w).access)
			return []*http.Request{req}, err
		}),
		"get": getScenario("get", "GET /books/{id}: one of the caller's books, in turn", client, 0, func(w int) ([]*http.Request, error) {
			u := userOf(w)
			reqs := make([]*http.Request, 0, len(u.books))
			for _, id := range u.books {
				req, err := newGet(ctx, base+"/books/"+id, u.access)
				if err != nil {
					return nil, err
				}
				reqs = append(reqs, req)
			}
			if len(reqs) == 0 {
				return nil, fmt.Errorf("user %s has no books", u.name)
			}
			return reqs, nil
		}),
		"create": {name: "create", note: "POST /books: a new book, no Idempotency-Key", setup: func(ctx context.Context, w int) (step, error) {
			h := http.Header{"Authorization": bearer(userOf(w).access), "Content-Type": hdrJSON}
			var buf bytes.Buffer
			n := 0
			return func(ctx context.Context) (int, error) {
				n++
				status, _, err := sendBody(ctx, client, "POST", base+"/books", h, bookBody(w, n), &buf)
				return status, err
			}, nil
		}},
		"update": {name: "update", note: "PATCH /books/{id} merge patch with If-Match: each worker owns one book and follows its ETag chain", setup: func(ctx context.Context, w int) (step, error) {
			u := userOf(w)
			id, etag, err := a.createBook(ctx, u.access, bookBody(1000+w, 0))
			if err != nil {
				return nil, err
			}
			url := base + "/books/" + id
			h := http.Header{"Authorization": bearer(u.access), "Content-Type": hdrMergePatch, "If-Match": {etag}}
			var buf bytes.Buffer
			n := 0
			return func(ctx context.Context) (int, error) {
				n++
				body := strconv.AppendInt([]byte(`{"price_cents":`), int64(n%1000000), 10)
				body = append(body, '}')
				status, rh, err := sendBody(ctx, client, "PATCH", url, h, body, &buf)
				switch {
				case err != nil:
				case status == http.StatusOK:
					h["If-Match"] = []string{rh.Get("ETag")}
				default:
					// The chain broke (it should not: nobody else
					// writes this book): pick it up again.
					if etag, err := a.getBookETag(ctx, u.access, id); err == nil {
						h["If-Match"] = []string{etag}
					}
				}
				return status, err
			}, nil
		}},
		"login": {name: "login", note: "POST /auth/login (JSON): one argon2id verification and a new session", setup: func(ctx context.Context, w int) (step, error) {
			h := http.Header{"Content-Type": hdrJSON}
			body := credentials(userOf(w))
			var buf bytes.Buffer
			return func(ctx context.Context) (int, error) {
				status, _, err := sendBody(ctx, client, "POST", base+"/auth/login", h, body, &buf)
				return status, err
			}, nil
		}},
		"refresh": {name: "refresh", note: "POST /auth/refresh: each worker rotates its own session's refresh token", setup: func(ctx context.Context, w int) (step, error) {
			u := userOf(w)
			tp, err := a.login(ctx, u)
			if err != nil {
				return nil, err
			}
			refresh := tp.RefreshToken
			h := http.Header{"Content-Type": hdrJSON}
			var buf bytes.Buffer
			return func(ctx context.Context) (int, error) {
				body, _ := json.Marshal(struct {
					RefreshToken string `json:"refresh_token"`
				}{refresh})
				status, _, err := sendBody(ctx, client, "POST", base+"/auth/refresh", h, body, &buf)
				if err != nil {
					return status, err
				}
				var next oapi.TokenPair
				if status == http.StatusOK && json.Unmarshal(buf.Bytes(), &next) == nil && next.RefreshToken != "" {
					refresh = next.RefreshToken
				} else if tp, err := a.login(ctx, u); err == nil {
					refresh = tp.RefreshToken // the chain broke: start a new session
				}
				return status, nil
			}, nil
		}},
	}
	for name, p := range map[string]*wrkPlan{"list": plan("list", tokens), "get": plan("get", gets),
		"create": plan("create", tokens), "login": plan("login", logins)} {
		sc := scs[name]
		sc.wrk = p
		scs[name] = sc
	}
	return scs
}
