// Package client is the Go client of the Bookstore API.
//
// Construct a Client with the server's base URL, log in once, then call the
// API: every call carries the access token.
//
//	c, err := client.New("http://127.0.0.1:8080")
//	if err != nil { ... }
//	if err := c.Login(ctx, "alice", "tangerine walrus under glass"); err != nil { ... }
//	book, err := c.CreateBook(ctx, client.BookCreate{Title: "The Hobbit", ...}, "")
//	page, err := c.ListBooks(ctx, &client.ListBooksParams{})
//	_, _, err = c.Book(ctx, id)
//	var p *client.Problem
//	if errors.As(err, &p) && p.Type == client.TypeNotFound { ... }
//	err = c.Logout(ctx)
//
// The package's Example runs this against a real server (go test; go doc
// -http shows it).
//
// The client refreshes the access token shortly before it expires, and
// again when the server answers 401 invalid_token, keeping the new refresh
// token each time (each works once). A Client is safe for concurrent use:
// one refresh runs at a time, and calls that need it wait for it.
//
// An answer that is not a success comes back as an error holding a
// *Problem (the API's RFC 9457 problem document): errors.As gives its type,
// status, detail and field errors. A session that can no longer be
// refreshed (logged out elsewhere, revoked, or its refresh token reused)
// gives errors that match ErrSessionEnded; log in again.
//
// Calls pass on the trace context of their context.Context as a W3C
// traceparent header, so the server's spans join the caller's trace.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/bookstore/bookstore/gen/oapi"
)

// ErrSessionEnded matches the errors of calls made after the session ended
// on the server: a refresh was refused (logout, password change, revoked,
// refresh token reused, session expired). The error also holds the
// server's *Problem. Log in again.
var ErrSessionEnded = errors.New("bookstore: the session has ended; log in again")

// Default settings of New.
const (
	// DefaultRefreshMargin is how long before expiry an access token is
	// replaced (at most a quarter of its lifetime).
	DefaultRefreshMargin = 30 * time.Second
	// refreshTimeout bounds one refresh, which runs on its own so that a
	// caller giving up does not lose the rotated refresh token.
	refreshTimeout = 30 * time.Second
)

// Client calls one Bookstore server as one user at a time. Create it with
// New.
type Client struct {
	api        *oapi.Client
	propagator propagation.TextMapPropagator
	margin     time.Duration
	now        func() time.Time

	mu         sync.Mutex
	tokens     *Tokens      // nil: not logged in
	version    uint64       // counts token pairs, so a stale 401 does not refresh twice
	ended      error        // why the session ended, until the next login
	refreshing *refreshCall // the refresh in flight, if any
}

// Tokens is the state of a logged-in client: save it to resume the session
// elsewhere with Resume. The refresh token changes on every refresh.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// Expiry is when the access token runs out, by this machine's clock.
	Expiry time.Time
	// Lifetime is the access token's lifetime as the server gave it.
	Lifetime time.Duration
}

type refreshCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// Option changes a Client's defaults.
type Option func(*Client) error

// WithHTTPClient sends requests through hc instead of http.DefaultClient,
// e.g. for timeouts, a proxy or an instrumented transport.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error { return oapi.WithHTTPClient(hc)(c.api) }
}

// WithRefreshMargin sets how long before expiry an access token is
// replaced (default DefaultRefreshMargin; at most a quarter of the token's
// lifetime is used).
func WithRefreshMargin(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return errors.New("client: the refresh margin must not be negative")
		}
		c.margin = d
		return nil
	}
}

// WithPropagator sets how the trace context of a call's context goes out
// with the request (default: W3C Trace Context, the traceparent and
// tracestate headers).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *Client) error { c.propagator = p; return nil }
}

// New returns a client of the server at baseURL, e.g.
// "http://127.0.0.1:8080". It is not logged in.
func New(baseURL string, opts ...Option) (*Client, error) {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("client: the base URL %q must start with http:// or https://", baseURL)
	}
	api, err := oapi.NewClient(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{api: api, propagator: propagation.TraceContext{}, margin: DefaultRefreshMargin, now: time.Now}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Login logs in with a JSON body and keeps the session's tokens.
func (c *Client) Login(ctx context.Context, username, password string) error {
	return c.login(ctx, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.Login(ctx, oapi.LoginRequest{Username: username, Password: password}, e)
	})
}

// LoginBasic logs in with HTTP Basic credentials and no body.
func (c *Client) LoginBasic(ctx context.Context, username, password string) error {
	return c.login(ctx, func(ctx context.Context, e oapi.RequestEditorFn) (*http.Response, error) {
		return c.api.LoginWithBody(ctx, "", nil, e, func(_ context.Context, req *http.Request) error {
			req.SetBasicAuth(username, password)
			return nil
		})
	})
}

func (c *Client) login(ctx context.Context, send sendFunc) error {
	sent := c.now()
	res, err := send(ctx, c.editor(ctx, ""))
	if err != nil {
		return fmt.Errorf("bookstore: log in: %w", err)
	}
	pair, err := decode[oapi.TokenPair](res, http.StatusOK)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(pair, sent)
	c.ended = nil
	return nil
}

// Logout ends the session on the server and forgets its tokens. The tokens
// are forgotten even when the server cannot be told.
func (c *Client) Logout(ctx context.Context) error {
	c.mu.Lock()
	for c.refreshing != nil {
		call := c.refreshing
		c.mu.Unlock()
		<-call.done // bounded by refreshTimeout
		c.mu.Lock()
	}
	tokens := c.tokens
	c.tokens, c.ended = nil, nil
	c.version++
	c.mu.Unlock()
	if tokens == nil {
		return nil
	}
	// The refresh token names the session whether or not the access token
	// is still valid.
	res, err := c.api.Logout(ctx, oapi.LogoutRequest{RefreshToken: &tokens.RefreshToken}, c.editor(ctx, ""))
	if err != nil {
		return fmt.Errorf("bookstore: log out: %w", err)
	}
	return expect(res, http.StatusNoContent)
}

// Tokens returns the session's tokens, and false when not logged in.
func (c *Client) Tokens() (Tokens, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		return Tokens{}, false
	}
	return *c.tokens, true
}

// Resume continues a session saved with Tokens, in place of logging in.
// Only one client may use a session: the first refresh by one of two
// clients holding the same refresh token ends the session for both.
func (c *Client) Resume(t Tokens) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = &t
	c.version++
	c.ended = nil
}

// setLocked keeps a new token pair; sent is when its request went out, so
// the expiry errs early.
func (c *Client) setLocked(pair oapi.TokenPair, sent time.Time) {
	lifetime := time.Duration(pair.ExpiresIn) * time.Second
	c.tokens = &Tokens{AccessToken: pair.AccessToken, RefreshToken: pair.RefreshToken, Expiry: sent.Add(lifetime), Lifetime: lifetime}
	c.version++
}

// accessToken returns the token to send and its version: "" when not
// logged in (the server decides whether the call needs one). It refreshes
// first when the token is about to expire, or waits for the refresh in
// flight.
func (c *Client) accessToken(ctx context.Context) (string, uint64, error) {
	c.mu.Lock()
	for {
		switch {
		case c.ended != nil:
			err := c.ended
			c.mu.Unlock()
			return "", 0, err
		case c.refreshing != nil:
			call := c.refreshing
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return "", 0, ctx.Err()
			}
			if call.err != nil {
				return "", 0, call.err
			}
			c.mu.Lock()
		case c.tokens == nil:
			c.mu.Unlock()
			return "", 0, nil
		case c.now().Before(c.tokens.Expiry.Add(-min(c.margin, c.tokens.Lifetime/4))):
			token, version := c.tokens.AccessToken, c.version
			c.mu.Unlock()
			return token, version, nil
		default:
			c.startRefreshLocked(ctx)
		}
	}
}

// invalidate starts a refresh after the server refused the access token of
// the given version, unless a newer token is already there or on its way.
func (c *Client) invalidate(ctx context.Context, version uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == version && c.refreshing == nil && c.tokens != nil && c.ended == nil {
		c.startRefreshLocked(ctx)
	}
}

// startRefreshLocked exchanges the refresh token for a new pair in the
// background; callers wait on c.refreshing. The exchange does not end when
// ctx does: the server may already have spent the old refresh token, and
// only its answer holds the new one.
func (c *Client) startRefreshLocked(ctx context.Context) {
	call := &refreshCall{done: make(chan struct{})}
	c.refreshing = call
	refreshToken := c.tokens.RefreshToken
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		sent := c.now()
		var pair oapi.TokenPair
		res, err := c.api.RefreshToken(ctx, oapi.RefreshRequest{RefreshToken: refreshToken}, c.editor(ctx, ""))
		if err == nil {
			pair, err = decode[oapi.TokenPair](res, http.StatusOK)
		} else {
			err = fmt.Errorf("bookstore: refresh the access token: %w", err)
		}
		c.mu.Lock()
		var p *Problem
		switch {
		case err == nil:
			c.setLocked(pair, sent)
		case errors.As(err, &p) && p.Status == http.StatusUnauthorized:
			// The refresh token is spent, revoked or expired: the session
			// is over. Network errors, 429 and 503 are not: the next call
			// tries again.
			err = fmt.Errorf("%w: %w", ErrSessionEnded, err)
			c.ended, c.tokens = err, nil
			c.version++
		}
		call.err = err
		c.refreshing = nil
		c.mu.Unlock()
		close(call.done)
	}()
}

// editor sets the access token (when there is one) and the trace context.
func (c *Client) editor(ctx context.Context, token string) oapi.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		c.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
		return nil
	}
}

// sendFunc sends one request of the generated client with the editor.
type sendFunc func(context.Context, oapi.RequestEditorFn) (*http.Response, error)

// send makes one call with the access token. When the server refuses the
// token (401 invalid_token: expired early, signing key rotated), it
// refreshes and sends once more. That is safe for every operation: a
// refused token means the operation did not run.
func (c *Client) send(ctx context.Context, send sendFunc) (*http.Response, error) {
	for retried := false; ; retried = true {
		token, version, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		res, err := send(ctx, c.editor(ctx, token))
		if err != nil {
			return nil, fmt.Errorf("bookstore: %w", err)
		}
		if retried || token == "" || res.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			return res, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxProblemBytes))
		res.Body.Close()
		c.invalidate(ctx, version)
	}
}

// call sends with send and decodes a want answer's JSON body into T.
func call[T any](c *Client, ctx context.Context, want int, send sendFunc) (T, http.Header, error) {
	res, err := c.send(ctx, send)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	v, err := decode[T](res, want)
	return v, res.Header, err
}

// callNoContent sends with send and expects want with no body.
func (c *Client) callNoContent(ctx context.Context, want int, send sendFunc) error {
	res, err := c.send(ctx, send)
	if err != nil {
		return err
	}
	return expect(res, want)
}

// decode reads a want answer's JSON body into T, or the error answer into
// a *Problem. It closes the body.
func decode[T any](res *http.Response, want int) (T, error) {
	defer res.Body.Close()
	var v T
	if res.StatusCode != want {
		return v, problemFrom(res)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("bookstore: decode the %d answer of %s %s: %w", res.StatusCode, res.Request.Method, res.Request.URL.Path, err)
	}
	return v, nil
}

// expect checks for a want answer and closes the body.
func expect(res *http.Response, want int) error {
	defer res.Body.Close()
	if res.StatusCode != want {
		return problemFrom(res)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxProblemBytes))
	return nil
}

// Do sends req (built for this client's server) with the access token and
// the trace context, refreshing like every other call, for what the typed
// methods do not cover. A 2xx or 3xx answer is returned for the caller to
// read and close; any other comes back as a *Problem. req's body, if any,
// must be replayable (set GetBody, as http.NewRequest does for in-memory
// bodies) so the request can be sent again after a refresh.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	res, err := c.send(ctx, func(ctx context.Context, edit oapi.RequestEditorFn) (*http.Response, error) {
		r := req.Clone(ctx)
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, errors.New("the request body cannot be replayed: set GetBody")
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		if err := edit(ctx, r); err != nil {
			return nil, err
		}
		return c.api.Client.Do(r)
	})
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		return nil, problemFrom(res)
	}
	return res, nil
}

// NewRequest builds a request to path (e.g. "/books?limit=5") on this
// client's server, for Do. body may be nil.
func (c *Client) NewRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	return http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.api.Server, "/")+path, r)
}
