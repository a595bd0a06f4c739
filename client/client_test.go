package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/client"
	"github.com/bookstore/bookstore/internal/demo"
	"github.com/bookstore/bookstore/internal/httpapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

const password = "tangerine walrus under glass"

// server is a real API on a temporary SQLite database whose log the test
// reads, to count what the server did.
type server struct {
	*demo.Server
	log proctest.Buffer
}

// requests counts the requests the server logged for an operation.
func (s *server) requests(operation string) int {
	return strings.Count(s.log.String(), `"operation":"`+operation+`"`)
}

func startServer(t *testing.T, opts demo.Options) *server {
	t.Helper()
	s := &server{}
	opts.Logger = slog.New(slog.NewJSONHandler(&s.log, nil))
	var err error
	if s.Server, err = demo.Start(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for the client, so tokens age without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// loggedIn registers username and returns a client logged in as them, on a
// clock the test moves.
func loggedIn(t *testing.T, s *server, username string) (*client.Client, *clock) {
	t.Helper()
	c := newClient(t, s)
	clk := &clock{now: time.Now()}
	client.SetClock(c, clk.Now)
	ctx := context.Background()
	if _, err := c.Register(ctx, username, password); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, username, password); err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func newClient(t *testing.T, s *server) *client.Client {
	t.Helper()
	c, err := client.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// together runs f n times at once, released behind a barrier, and returns
// the errors.
func together(n int, f func() error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrentCallsShareOneRefresh(t *testing.T) {
	s := startServer(t, demo.Options{})
	c, clk := loggedIn(t, s, "alice")
	ctx := context.Background()
	if _, err := c.CreateBook(ctx, client.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, ""); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Tokens()

	for round := 1; round <= 2; round++ {
		// Past the access token's expiry by the client's clock: the next
		// calls need a new one, and must share one refresh.
		clk.Advance(time.Hour)
		const n = 24
		errs := together(n, func() error {
			page, err := c.ListBooks(ctx, nil)
			if err == nil && len(page.Items) != 1 {
				return errors.New("wrong page")
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, call %d: %v", round, i, err)
			}
		}
		if got := s.requests("refreshToken"); got != round {
			t.Fatalf("round %d: the server saw %d refreshes in all, want %d", round, got, round)
		}
		if got := s.requests("listBooks"); got != n*round {
			t.Fatalf("round %d: the server saw %d list calls, want %d", round, got, n*round)
		}
	}
	after, _ := c.Tokens()
	if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken {
		t.Fatal("the client did not keep the rotated tokens")
	}
	if got := s.requests("login"); got != 1 {
		t.Fatalf("%d logins, want 1", got)
	}
}

func TestTokenRefreshedShortlyBeforeExpiry(t *testing.T) {
	s := startServer(t, demo.Options{AccessTTL: 10 * time.Minute})
	c, clk := loggedIn(t, s, "alice")
	ctx := context.Background()
	// 10 minutes: a 30 s margin. A minute before expiry, the token is
	// still used.
	clk.Advance(9 * time.Minute)
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.requests("refreshToken"); got != 0 {
		t.Fatalf("%d refreshes with a minute left, want 0", got)
	}
	clk.Advance(45 * time.Second)
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.requests("refreshToken"); got != 1 {
		t.Fatalf("%d refreshes with 15 s left, want 1", got)
	}
}

func TestRefreshOnInvalidToken(t *testing.T) {
	s := startServer(t, demo.Options{})
	c, _ := loggedIn(t, s, "alice")
	ctx := context.Background()
	tokens, _ := c.Tokens()
	// The server refuses this access token (as after a key rotation it
	// does not know): 401 invalid_token. The client refreshes and retries,
	// every concurrent caller on the same one refresh.
	tokens.AccessToken = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
	c.Resume(tokens)
	for i, err := range together(8, func() error { _, err := c.Me(ctx); return err }) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := s.requests("refreshToken"); got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
	// Each call sent the refused token once and was retried once, except
	// a call the scheduler started only after the refresh had finished:
	// that one went out with the new token straight away.
	if got := s.requests("getCurrentUser"); got < 9 || got > 16 {
		t.Fatalf("the server saw %d calls, want 9 to 16 (the refused ones, then 8 retried)", got)
	}
}

func TestReusedRefreshTokenEndsTheSession(t *testing.T) {
	s := startServer(t, demo.Options{})
	victim, victimClock := loggedIn(t, s, "alice")
	ctx := context.Background()

	// A thief copies the session and refreshes first.
	stolen, _ := victim.Tokens()
	thief := newClient(t, s)
	thiefClock := &clock{now: time.Now()}
	client.SetClock(thief, thiefClock.Now)
	thief.Resume(stolen)
	thiefClock.Advance(time.Hour)
	if _, err := thief.Me(ctx); err != nil {
		t.Fatal(err)
	}

	// The victim's refresh presents the spent token: the server revokes
	// the session, and the victim sees why.
	victimClock.Advance(time.Hour)
	_, err := victim.Me(ctx)
	if !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("err = %v, want ErrSessionEnded", err)
	}
	var p *client.Problem
	if !errors.As(err, &p) || p.Type != client.TypeRefreshTokenReused || p.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 %s problem", err, client.TypeRefreshTokenReused)
	}
	if !strings.Contains(err.Error(), "log in again") {
		t.Fatalf("err = %q does not say what to do", err)
	}
	if _, ok := victim.Tokens(); ok {
		t.Fatal("the victim still holds tokens")
	}
	// Later calls fail the same way without asking the server.
	refreshes := s.requests("refreshToken")
	if _, err := victim.ListBooks(ctx, nil); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("err = %v, want ErrSessionEnded", err)
	}
	if got := s.requests("refreshToken"); got != refreshes {
		t.Fatal("a call after the end of the session reached the server")
	}
	// The thief's session is gone too: its next call is refused and its
	// refresh fails.
	if _, err := thief.Me(ctx); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("thief: err = %v, want ErrSessionEnded", err)
	}
	// Logging in again starts afresh.
	if err := victim.Login(ctx, "alice", password); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Me(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLoginBasicAndLogout(t *testing.T) {
	s := startServer(t, demo.Options{})
	ctx := context.Background()
	c := newClient(t, s)
	if _, err := c.Register(ctx, "bob", password); err != nil {
		t.Fatal(err)
	}
	if err := c.LoginBasic(ctx, "bob", password); err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(ctx)
	if err != nil || me.Username != "bob" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	tokens, _ := c.Tokens()
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Tokens(); ok {
		t.Fatal("tokens kept after logout")
	}
	// The server ended the session: the old access token is refused.
	req, err := c.NewRequest(ctx, http.MethodGet, "/users/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
	_, err = c.Do(ctx, req)
	var p *client.Problem
	if !errors.As(err, &p) || p.Type != client.TypeInvalidToken {
		t.Fatalf("old token after logout: err = %v, want %s", err, client.TypeInvalidToken)
	}
	// And its refresh token too.
	tokens.Expiry = time.Now()
	c.Resume(tokens)
	if _, err := c.Me(ctx); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("err = %v, want ErrSessionEnded", err)
	}
}

// Every problem type the server sends decodes into a *Problem with its
// type, status, detail and (for validation) field errors.
func TestProblemTypesDecode(t *testing.T) {
	s := startServer(t, demo.Options{})
	ctx := context.Background()
	c, _ := loggedIn(t, s, "alice")
	anon := newClient(t, s)

	raw := func(method, path, contentType string, body []byte) func() error {
		return func() error {
			req, err := c.NewRequest(ctx, method, path, body)
			if err != nil {
				return err
			}
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			res, err := c.Do(ctx, req)
			if err == nil {
				res.Body.Close()
			}
			return err
		}
	}
	book, err := c.CreateBook(ctx, client.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, "key-1")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		want   client.ProblemType
		status int
		call   func() error
		field  string // a field error expected, if any
	}{
		{client.TypeConflict, 409, func() error {
			_, err := c.CreateBook(ctx, client.BookCreate{Title: "Other", Author: "Someone", Publisher: "P", PriceCents: 1}, "key-1")
			return err
		}, ""},
		{client.TypeForbidden, 403, func() error { _, err := c.ListUsers(ctx, nil); return err }, ""},
		{client.TypeInvalidCredentials, 401, func() error { return anon.Login(ctx, "alice", "not the password at all") }, ""},
		{client.TypeInvalidToken, 401, func() error {
			req, _ := anon.NewRequest(ctx, http.MethodGet, "/users/me", nil)
			req.Header.Set("Authorization", "Bearer not-a-token")
			_, err := anon.Do(ctx, req)
			return err
		}, ""},
		{client.TypeMalformedRequest, 400, raw(http.MethodPost, "/books", "application/json", []byte(`{"title":`)), ""},
		{client.TypeMethodNotAllowed, 405, raw(http.MethodPut, "/books", "", nil), ""},
		{client.TypeNotFound, 404, func() error { _, _, err := c.Book(ctx, uuid.New()); return err }, ""},
		{client.TypePayloadTooLarge, 413, raw(http.MethodPost, "/books", "application/json", bytes.Repeat([]byte(" "), 2<<20)), ""},
		{client.TypePreconditionFailed, 412, func() error {
			_, _, err := c.UpdateBook(ctx, book.Id, client.BookPatch{Title: ptr("Dune Messiah")}, `"99"`)
			return err
		}, ""},
		{client.TypeUnauthorized, 401, func() error { _, err := anon.ListBooks(ctx, nil); return err }, ""},
		{client.TypeUnsupportedMediaType, 415, raw(http.MethodPost, "/books", "text/plain", []byte("hello")), ""},
		{client.TypeUsernameTaken, 409, func() error { _, err := anon.Register(ctx, "alice", password); return err }, ""},
		{client.TypeValidation, 400, func() error {
			_, err := c.CreateBook(ctx, client.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: -1}, "")
			return err
		}, "price_cents"},
		{client.TypeWrongPassword, 403, func() error {
			return c.ChangePassword(ctx, "not the password at all", "a brand new and long passphrase")
		}, ""},
	}
	for _, tc := range cases {
		t.Run(string(tc.want), func(t *testing.T) {
			err := tc.call()
			var p *client.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err = %v (%T), want a *Problem", err, err)
			}
			if p.Type != tc.want || p.Status != tc.status || p.Title == "" || p.Detail == "" || p.Instance == "" {
				t.Fatalf("problem = %+v, want type %s, status %d, a title, a detail and an instance", p, tc.want, tc.status)
			}
			if tc.field != "" && !hasField(p, tc.field) {
				t.Fatalf("field errors %+v lack %s", p.Errors, tc.field)
			}
			if !strings.Contains(err.Error(), string(tc.want)) {
				t.Fatalf("Error() = %q does not name the type", err)
			}
		})
	}

	t.Run(string(client.TypeTooManyRequests), func(t *testing.T) {
		s := startServer(t, demo.Options{Throttle: true})
		c := newClient(t, s)
		var err error
		for range 20 {
			if err = c.Login(ctx, "nobody", "not the password at all"); err != nil {
				var p *client.Problem
				if errors.As(err, &p) && p.Type == client.TypeTooManyRequests {
					break
				}
			}
		}
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeTooManyRequests || p.Status != 429 || p.RetryAfter <= 0 {
			t.Fatalf("err = %v, want 429 %s with Retry-After", err, client.TypeTooManyRequests)
		}
	})

	t.Run(string(client.TypeInternal), func(t *testing.T) {
		s := startServer(t, demo.Options{})
		c, _ := loggedIn(t, s, "carol")
		s.Store.Close() // the database goes away under the server
		_, err := c.ListBooks(ctx, nil)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeInternal || p.Status != 500 || p.Instance == "" {
			t.Fatalf("err = %v, want a 500 %s", err, client.TypeInternal)
		}
	})

	t.Run(string(client.TypeOverloaded), func(t *testing.T) {
		s := startServer(t, demo.Options{HashQueueWait: time.Nanosecond}) // no queue
		c := newClient(t, s)
		// The test holds both hashing slots, as two long hashes would.
		for range 2 {
			release, err := s.Hasher.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
		}
		err := c.Login(ctx, "alice", password)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeOverloaded || p.Status != 503 || p.RetryAfter <= 0 {
			t.Fatalf("err = %v, want a 503 %s with Retry-After", err, client.TypeOverloaded)
		}
	})

	t.Run(string(client.TypePasswordChange), func(t *testing.T) {
		// An account whose (imported) password must change may do nothing
		// else until it has.
		dave, _ := loggedIn(t, s, "dave")
		me, err := dave.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Store.SetPasswordChangeRequired(ctx, me.Id, true); err != nil {
			t.Fatal(err)
		}
		_, err = dave.ListBooks(ctx, nil)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypePasswordChange || p.Status != 403 || p.Detail == "" {
			t.Fatalf("err = %v, want a 403 %s", err, client.TypePasswordChange)
		}
	})

	t.Run(string(client.TypeLastAdmin), func(t *testing.T) {
		// The only admin cannot step down.
		mallory, _ := loggedIn(t, s, "mallory")
		me, err := mallory.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store.SetUserAdmin(ctx, me.Id, true); err != nil {
			t.Fatal(err)
		}
		_, err = mallory.SetAdmin(ctx, me.Id, false)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeLastAdmin || p.Status != 409 || p.Detail == "" {
			t.Fatalf("err = %v, want a 409 %s", err, client.TypeLastAdmin)
		}
	})

	t.Run(string(client.TypeInsufficientAuth), func(t *testing.T) {
		// Deleting one's own account needs a recent password login; here
		// every login is already too old.
		strict := startServer(t, demo.Options{StepUpMaxAge: time.Nanosecond})
		trent, _ := loggedIn(t, strict, "trent")
		me, err := trent.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = trent.DeleteUser(ctx, me.Id)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeInsufficientAuth || p.Status != 401 || p.Detail == "" {
			t.Fatalf("err = %v, want a 401 %s", err, client.TypeInsufficientAuth)
		}
		if _, err := trent.Me(ctx); err != nil {
			t.Fatalf("the account is gone after a refused deletion: %v", err)
		}
	})

	t.Run(string(client.TypeUnavailable), func(t *testing.T) {
		// What a replica serves while its PostgreSQL is not up yet.
		starting := httptest.NewServer(httpapi.NewStartingHandler())
		defer starting.Close()
		c, err := client.New(starting.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Me(ctx)
		var p *client.Problem
		if !errors.As(err, &p) || p.Type != client.TypeUnavailable || p.Status != 503 || p.RetryAfter <= 0 || p.Detail == "" {
			t.Fatalf("err = %v (%+v), want a 503 %s with Retry-After", err, p, client.TypeUnavailable)
		}
	})

	// Every type the spec names is decoded above (refresh-token-reused in
	// TestReusedRefreshTokenEndsTheSession).
	covered := map[string]bool{
		string(client.TypeTooManyRequests): true, string(client.TypeInternal): true,
		string(client.TypeUnavailable): true, string(client.TypeRefreshTokenReused): true,
		string(client.TypeOverloaded): true, string(client.TypePasswordChange): true,
		string(client.TypeLastAdmin): true, string(client.TypeInsufficientAuth): true,
	}
	for _, tc := range cases {
		covered[string(tc.want)] = true
	}
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	enum := spec.Components.Schemas["ProblemType"].Value.Enum
	if len(enum) < len(covered) {
		t.Fatalf("the spec lists %d problem types, fewer than the %d tested", len(enum), len(covered))
	}
	for _, v := range enum {
		if !covered[v.(string)] {
			t.Errorf("problem type %s is not decoded by any test", v)
		}
	}
}

func hasField(p *client.Problem, field string) bool {
	for _, fe := range p.Errors {
		if fe.Field == field && fe.Message != "" {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
