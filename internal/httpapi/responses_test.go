package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// The tests in this file walk the spec and produce, for every operation,
// the error statuses its shape implies: 413 and 415 wherever a body is
// taken, 400 wherever there is a parameter or a body, 503 and 500 wherever
// the database is needed. Together with the other tests they feed the
// (operation, status) gate of TestMain.

// exampleRequest is a request every operation accepts as far as its input
// goes: its path with an id in each parameter, and the media-type example
// of its body. Secured operations get token; public ones get it too, and
// must ignore it.
type exampleRequest struct {
	method, path string
	header       http.Header
	body         string
}

func exampleRequestFor(t *testing.T, so specOperation, token string) exampleRequest {
	t.Helper()
	req := exampleRequest{method: so.method, path: so.path, header: http.Header{}}
	if token != "" {
		req.header.Set("Authorization", "Bearer "+token)
	}
	if so.op.RequestBody == nil {
		return req
	}
	mediaType, mt := firstMediaType(so.op.RequestBody.Value.Content)
	example, ok := mediaTypeExample(mt)
	if !ok {
		t.Fatalf("%s: the request body has no example (TestSpecExamples)", so.id)
	}
	b, err := json.Marshal(example)
	if err != nil {
		t.Fatal(err)
	}
	req.header.Set("Content-Type", mediaType)
	req.body = string(b)
	return req
}

// firstMediaType is the alphabetically first media type of content.
func firstMediaType(content openapi3.Content) (string, *openapi3.MediaType) {
	names := make([]string, 0, len(content))
	for name := range content {
		names = append(names, name)
	}
	sort.Strings(names)
	return names[0], content[names[0]]
}

// mediaTypeExample is the media type's `example`, or its first `examples`
// entry.
func mediaTypeExample(mt *openapi3.MediaType) (any, bool) {
	if mt.Example != nil {
		return mt.Example, true
	}
	names := make([]string, 0, len(mt.Examples))
	for name := range mt.Examples {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if ex := mt.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value, true
		}
	}
	return nil, false
}

func (api *testAPI) send(req exampleRequest) (*http.Response, []byte) {
	api.t.Helper()
	return api.do(req.method, req.path, req.header, req.body)
}

// TestEveryBodyIsBoundedAndTyped: an operation that takes a body refuses
// one over its limit (413) and one in a media type it does not take (415);
// an operation that takes none ignores whatever is sent, however large.
func TestEveryBodyIsBoundedAndTyped(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	limits := httpapi.BodyByteLimits(spec)
	withBody := 0
	for _, so := range specOperations(t) {
		t.Run(so.id, func(t *testing.T) {
			req := exampleRequestFor(t, so, alice.Access)
			if so.op.RequestBody == nil {
				if declares(so.op, 413) || declares(so.op, 415) {
					t.Errorf("takes no body but declares 413 or 415")
				}
				// Answered without reading the body: the status a request
				// without one gets (ids are fresh, so nothing is changed).
				plain, _ := api.send(req)
				req.body = strings.Repeat("x", httpapi.MaxBodyBytes+1)
				res, body := api.send(req)
				if res.StatusCode != plain.StatusCode {
					t.Errorf("with a body over 1 MiB: %d, without: %d: %.300s", res.StatusCode, plain.StatusCode, body)
				}
				return
			}
			withBody++
			limit, ok := limits[so.id]
			if !ok {
				t.Fatal("takes a body but has no limit")
			}
			tooLarge := req
			tooLarge.body = `{"x":"` + strings.Repeat("a", int(limit)) + `"}`
			res, body := api.send(tooLarge)
			if res.StatusCode != 413 || !strings.Contains(problemOf(t, body).Detail, "bytes") {
				t.Errorf("a body over its %d-byte limit: %d %.300s", limit, res.StatusCode, body)
			}
			wrongType := req
			wrongType.header = req.header.Clone()
			wrongType.header.Set("Content-Type", "text/plain")
			res, body = api.send(wrongType)
			if res.StatusCode != 415 || !strings.Contains(problemOf(t, body).Detail, "application/") {
				t.Errorf("a text/plain body: %d %.300s", res.StatusCode, body)
			}
		})
	}
	if withBody < 8 {
		t.Errorf("only %d operations take a body; the spec has more", withBody)
	}
}

// invalidValue is the first of a few candidates the parameter's schema
// rejects, so each parameter gets a value only its own rule refuses.
func invalidValue(t *testing.T, p *openapi3.Parameter) string {
	t.Helper()
	s := p.Schema.Value
	if s.Type.Is(openapi3.TypeInteger) || s.Type.Is(openapi3.TypeNumber) {
		return "x" // not a number at all
	}
	candidates := []string{"x", "not a valid value"}
	if s.MaxLength != nil {
		candidates = append(candidates, strings.Repeat("a", int(*s.MaxLength)+1))
	}
	for _, c := range candidates {
		if s.VisitJSON(c) != nil {
			return c
		}
	}
	t.Fatalf("no invalid value for parameter %s.%s", p.In, p.Name)
	return ""
}

// TestEveryInputIsValidated: every parameter with a value its schema
// refuses, and every body that is not its schema's type, is a 400 that
// names the field; every operation that reads a token answers 400 to two
// headers carrying different ones.
func TestEveryInputIsValidated(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	for _, so := range specOperations(t) {
		t.Run(so.id, func(t *testing.T) {
			for _, ref := range so.params {
				p := ref.Value
				req := exampleRequestFor(t, so, alice.Access)
				req.header = req.header.Clone()
				bad := invalidValue(t, p)
				switch p.In {
				case "path":
					req.path = strings.Replace(req.path, "01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f", bad, 1)
				case "query":
					req.path += "?" + url.Values{p.Name: {bad}}.Encode()
				case "header":
					req.header.Set(p.Name, bad)
				default:
					t.Fatalf("parameter in %s", p.In)
				}
				res, body := api.send(req)
				if res.StatusCode != 400 || !namesField(problemOf(t, body), p.In+"."+p.Name) {
					t.Errorf("%s.%s=%.40q: %d %.300s", p.In, p.Name, bad, res.StatusCode, body)
				}
			}
			if so.op.RequestBody != nil {
				req := exampleRequestFor(t, so, alice.Access)
				req.body = `[]`
				res, body := api.send(req)
				if res.StatusCode != 400 || problemOf(t, body).Detail == "" {
					t.Errorf("a body that is an array: %d %.300s", res.StatusCode, body)
				}
			}
			if !acceptsToken(so) {
				return
			}
			req := exampleRequestFor(t, so, alice.Access)
			req.header.Set("X-Access-Tokens", "another token")
			res, body := api.send(req)
			if res.StatusCode != 400 || !namesField(problemOf(t, body), "header.x-access-tokens") {
				t.Errorf("two different tokens: %d %.300s", res.StatusCode, body)
			}
		})
	}
}

func namesField(p oapi.Problem, field string) bool {
	if p.Errors == nil {
		return false
	}
	for _, f := range *p.Errors {
		if strings.EqualFold(f.Field, field) {
			return true
		}
	}
	return false
}

// storeFault is what faultyStore does on the calls it watches.
type storeFault int32

const (
	storeHealthy storeFault = iota
	storeDown               // the database cannot answer (ErrUnavailable)
	storeBroken             // a bug: the call panics
)

// faultyStore fails on demand the store call each operation starts with:
// AuthenticateSession for the operations that take a token, and for the
// public ones registration's CreateUser, login's FindUserByUsername, the
// refresh token calls and readiness's Ping.
type faultyStore struct {
	bookstore.Store
	fault *atomic.Int32
}

func (f faultyStore) fail() error {
	switch storeFault(f.fault.Load()) {
	case storeDown:
		return &bookstore.Error{Kind: bookstore.ErrUnavailable, Message: "the database is temporarily unavailable"}
	case storeBroken:
		panic("faultyStore: an injected bug")
	}
	return nil
}

func (f faultyStore) AuthenticateSession(ctx context.Context, sessionID, userID uuid.UUID, now time.Time) (bookstore.Principal, error) {
	if err := f.fail(); err != nil {
		return bookstore.Principal{}, err
	}
	return f.Store.AuthenticateSession(ctx, sessionID, userID, now)
}

func (f faultyStore) CreateUser(ctx context.Context, u bookstore.User) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.CreateUser(ctx, u)
}

func (f faultyStore) FindUserByUsername(ctx context.Context, username string) (bookstore.User, error) {
	if err := f.fail(); err != nil {
		return bookstore.User{}, err
	}
	return f.Store.FindUserByUsername(ctx, username)
}

func (f faultyStore) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time) (bookstore.Session, error) {
	if err := f.fail(); err != nil {
		return bookstore.Session{}, err
	}
	return f.Store.RotateRefreshToken(ctx, oldHash, newHash, now)
}

func (f faultyStore) RevokeSessionByRefreshToken(ctx context.Context, hash []byte, now time.Time) (bookstore.Session, error) {
	if err := f.fail(); err != nil {
		return bookstore.Session{}, err
	}
	return f.Store.RevokeSessionByRefreshToken(ctx, hash, now)
}

func (f faultyStore) Ping(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

// unavailableOnlyWhileStarting are the operations whose 503 comes only from
// the starting handler (TestStartingHandler): they need the database once,
// at start, and never again.
var unavailableOnlyWhileStarting = map[string]string{
	"getJwks": "the signing keys are read from the database at start, then held in memory",
}

// TestEveryOperationWhenTheDatabaseFails: with the database down, every
// operation that declares 503 answers it with Retry-After, the token check
// included; with a store that panics, every operation that declares 500
// answers a problem without details. An operation that declares neither
// never needs the database: it answers as usual, a token sent to it
// notwithstanding.
func TestEveryOperationWhenTheDatabaseFails(t *testing.T) {
	fault := &atomic.Int32{}
	api := newTestAPI(t, func(o *apiOptions) {
		o.wrapStore = func(db bookstore.Store) bookstore.Store { return faultyStore{db, fault} }
	})
	alice := api.register("alice")
	api.allow5xx = true
	for _, so := range specOperations(t) {
		t.Run(so.id, func(t *testing.T) {
			req := exampleRequestFor(t, so, alice.Access)
			needsDatabase := declares(so.op, 503) && unavailableOnlyWhileStarting[so.id] == ""
			fault.Store(int32(storeDown))
			res, body := api.send(req)
			if needsDatabase {
				if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || problemOf(t, body).Type != "/problems/unavailable" {
					t.Errorf("database down: %d Retry-After %q: %.300s", res.StatusCode, res.Header.Get("Retry-After"), body)
				}
			} else if res.StatusCode >= 400 {
				t.Errorf("needs no database, yet with it down: %d %.300s", res.StatusCode, body)
			}
			fault.Store(int32(storeBroken))
			res, body = api.send(req)
			if needsDatabase {
				p := problemOf(t, body)
				if res.StatusCode != 500 || p.Type != "/problems/internal" || strings.Contains(string(body), "injected") {
					t.Errorf("store panics: %d %.300s", res.StatusCode, body)
				}
			}
			fault.Store(int32(storeHealthy))
		})
	}
	if !strings.Contains(api.Logs.String(), "injected") {
		t.Error("the panics were not logged")
	}
}

// TestEveryOperationHoldsBackAForcedPasswordChange: a session whose account
// must change its password (an imported weak one) gets 403
// password-change-required from every operation that takes a token, but
// the change itself and logout.
func TestEveryOperationHoldsBackAForcedPasswordChange(t *testing.T) {
	api := newTestAPI(t)
	api.importUser("weakling", "hunter2")
	weak := api.login("weakling", "hunter2")
	gated := 0
	for _, so := range specOperations(t) {
		if !acceptsToken(so) || so.id == "changePassword" || so.id == "logout" {
			continue
		}
		gated++
		t.Run(so.id, func(t *testing.T) {
			res, body := api.send(exampleRequestFor(t, so, weak.Access))
			if res.StatusCode != 403 || problemOf(t, body).Type != "/problems/password-change-required" {
				t.Errorf("%d %.300s; want 403 password-change-required", res.StatusCode, body)
			}
		})
	}
	if gated < 13 {
		t.Errorf("only %d operations held back; the spec has more", gated)
	}
}
