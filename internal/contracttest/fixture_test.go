package contracttest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

const (
	adminUsername = "root"
	// password is every account's password: long enough for the default
	// policy (15 characters) and not a common one.
	password    = "tangerine walrus under glass"
	newPassword = "a brand new and long passphrase"
)

// fixture is one bookstore process on a fresh SQLite file with Prism in
// front of it.
type fixture struct {
	serverURL string
	prismURL  string
	rec       *recorder
	http      *http.Client
	admin     *account
	// bystander is an account for the requests the server must refuse:
	// nothing may change it.
	bystander *account
	seq       atomic.Int64
	addresses atomic.Uint32
}

// account is a registered, logged-in user.
type account struct {
	id       uuid.UUID
	username string
	password string
	tokens   oapi.TokenPair
}

func newFixture(t *testing.T, prism string, rec *recorder) *fixture {
	t.Helper()
	server := proctest.Start(t, proctest.FreeAddr(t),
		"BOOKSTORE_DATABASE_URL="+filepath.Join(t.TempDir(), "bookstore.db"),
		"BOOKSTORE_ADMIN_USERNAME="+adminUsername,
		"BOOKSTORE_ADMIN_PASSWORD="+password,
		// Prism connects from 127.0.0.1 and passes X-Forwarded-For on:
		// each throttle case names a client address of its own, so that
		// filling one limit cannot refuse another case's requests.
		"BOOKSTORE_TRUSTED_PROXIES=127.0.0.1/32",
		"BOOKSTORE_LOG_LEVEL=warn",
		// The cases run in parallel on a shared machine: queued password
		// hashes must wait, not turn into 503s (the suite is no load test).
		"BOOKSTORE_HASH_QUEUE_WAIT=1m",
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server's log (last 4000 bytes):\n%s", tail(server.Logs(), 4000))
		}
	})
	f := &fixture{
		serverURL: server.URL,
		prismURL:  startPrism(t, prism, specPath(), server.URL),
		rec:       rec,
		// Redirects are answers to check, not to follow.
		http: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	f.admin = f.login(t, adminUsername, password)
	f.bystander = f.newAccount(t)
	return f
}

// client returns a generated client for test t that goes through Prism or
// straight to the server; every response it gets is checked and recorded.
func (f *fixture) client(t testing.TB, way via) *oapi.Client {
	return f.clientWith(t, &checkingDoer{t: t, http: f.http, rec: f.rec, via: way})
}

// clientWith returns a generated client that sends through d, from a
// client address of its own.
func (f *fixture) clientWith(t testing.TB, d *checkingDoer) *oapi.Client {
	url := f.prismURL
	if d.via == viaDirect {
		url = f.serverURL
	}
	n := f.addresses.Add(1)
	d.address = netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).String()
	c, err := oapi.NewClient(url, oapi.WithHTTPClient(d))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// username returns a username no other account of the run has.
func (f *fixture) username() string {
	return fmt.Sprintf("user%d", f.seq.Add(1))
}

// newAccount registers a user through Prism and logs it in.
func (f *fixture) newAccount(t testing.TB) *account {
	t.Helper()
	username := f.username()
	res, err := f.client(t, viaPrism).RegisterUser(t.Context(), oapi.RegisterRequest{Username: username, Password: password})
	want(t, res, err, http.StatusCreated)
	return f.login(t, username, password)
}

// login logs username in through Prism.
func (f *fixture) login(t testing.TB, username, password string) *account {
	t.Helper()
	res, err := f.client(t, viaPrism).Login(t.Context(), oapi.LoginRequest{Username: username, Password: password})
	tokens := decode[oapi.TokenPair](t, want(t, res, err, http.StatusOK))
	res, err = f.client(t, viaPrism).GetCurrentUser(t.Context(), bearer(tokens.AccessToken))
	me := decode[oapi.User](t, want(t, res, err, http.StatusOK))
	return &account{id: me.Id, username: username, password: password, tokens: tokens}
}

// newBook adds a book to a's catalogue through Prism and returns it with
// its ETag.
func (f *fixture) newBook(t testing.TB, a *account) (oapi.Book, string) {
	t.Helper()
	res, err := f.client(t, viaPrism).CreateBook(t.Context(), &oapi.CreateBookParams{}, bookCreate(f.seq.Add(1)), bearer(a.tokens.AccessToken))
	book := decode[oapi.Book](t, want(t, res, err, http.StatusCreated))
	return book, res.Header.Get("ETag")
}

// currentSessionID returns the id of the session of a's access token.
func (f *fixture) currentSessionID(t testing.TB, a *account) uuid.UUID {
	t.Helper()
	res, err := f.client(t, viaPrism).ListMySessions(t.Context(), bearer(a.tokens.AccessToken))
	for _, s := range decode[oapi.SessionList](t, want(t, res, err, http.StatusOK)).Items {
		if s.Current {
			return s.Id
		}
	}
	t.Fatal("no current session in the list")
	return uuid.Nil
}

// bookCreate is a valid new book; n makes its title and ISBN differ from
// other books'.
func bookCreate(n int64) oapi.BookCreate {
	b := oapi.BookCreate{Title: fmt.Sprintf("Book %d", n), Author: "J. R. R. Tolkien", Publisher: "HarperCollins", PriceCents: 1299}
	b.Isbn.Set(isbn13(n))
	return b
}

// isbn13 returns an ISBN-13 with a valid check digit, different for each n.
func isbn13(n int64) string {
	digits := fmt.Sprintf("978%09d", n%1_000_000_000)
	sum := 0
	for i, d := range digits {
		w := 1
		if i%2 == 1 {
			w = 3
		}
		sum += int(d-'0') * w
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

// want fails t unless the request went out and got status; it returns the
// body.
func want(t testing.TB, res *http.Response, err error, status int) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.RequestURI(), res.StatusCode, status, body)
	}
	return body
}

func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, body)
	}
	return v
}

// header sets one request header.
func header(name, value string) oapi.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set(name, value)
		return nil
	}
}

func bearer(token string) oapi.RequestEditorFn {
	return header("Authorization", "Bearer "+token)
}

func basic(username, password string) oapi.RequestEditorFn {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(username+":"+password)))
}

// fromAddress makes the request come from client address ip (the server
// trusts the X-Forwarded-For of 127.0.0.1, where Prism and the suite are).
func fromAddress(ip string) oapi.RequestEditorFn {
	return header("X-Forwarded-For", ip)
}

// noContentType removes the Content-Type the generated client sets even
// when it sends no body.
func noContentType(_ context.Context, req *http.Request) error {
	req.Header.Del("Content-Type")
	return nil
}

// oversized is a JSON object of more than 1 MiB: valid JSON padded with
// spaces before its first member.
func oversized(members string) io.Reader {
	return strings.NewReader("{" + strings.Repeat(" ", 1<<20+1) + members + "}")
}
