package contracttest_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

// TestMain skips the whole package, with one line, without Prism: plain
// go test ./... stays free of Node.js.
func TestMain(m *testing.M) {
	if os.Getenv(prismEnv) == "" {
		fmt.Println(skipMessage)
		os.Exit(0)
	}
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// call sends one valid request for an operation. who is the account whose
// things the request is about (setup goes through f as who); auth carries
// the caller's credentials, which the suite varies, and goes last.
type call func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error)

// operation is one operation of the spec and a valid request for it. From
// it the suite derives the cases every operation has: success; for
// operations that take a bearer token 400 (two different tokens) and 401 (a
// bad token, and none), for public ones the success with two different
// tokens (never looked at); and 403 for a non-admin on an admin-only one. A new
// operation needs an entry here; the run fails while one is missing.
type operation struct {
	id      string
	success int
	// admin: the caller must be an admin (who is then another user).
	admin bool
	// around, when set, sends the success request around Prism, and says
	// why (one of the around... reasons).
	around string
	call   call
}

var operations = []operation{
	{id: "registerUser", success: 201, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.RegisterUser(t.Context(), oapi.RegisterRequest{Username: f.username(), Password: password}, auth...)
	}},
	{id: "login", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.Login(t.Context(), oapi.LoginRequest{Username: who.username, Password: who.password}, auth...)
	}},
	{id: "refreshToken", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.RefreshToken(t.Context(), oapi.RefreshRequest{RefreshToken: who.tokens.RefreshToken}, auth...)
	}},
	{id: "logout", success: 204, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.Logout(t.Context(), oapi.LogoutRequest{}, auth...)
	}},
	{id: "getJwks", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetJwks(t.Context(), auth...)
	}},
	{id: "getCurrentUser", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetCurrentUser(t.Context(), auth...)
	}},
	{id: "changePassword", success: 204, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.ChangePassword(t.Context(), oapi.PasswordChange{CurrentPassword: who.password, NewPassword: newPassword}, auth...)
	}},
	{id: "listMySessions", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.ListMySessions(t.Context(), auth...)
	}},
	{id: "revokeMySession", success: 204, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		other := f.login(t, who.username, who.password)
		return c.RevokeMySession(t.Context(), f.currentSessionID(t, other), auth...)
	}},
	{id: "listUsers", success: 200, admin: true, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.ListUsers(t.Context(), &oapi.ListUsersParams{}, auth...)
	}},
	{id: "getUser", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetUser(t.Context(), who.id, auth...)
	}},
	{id: "updateUser", success: 200, admin: true, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.UpdateUserWithApplicationMergePatchPlusJSONBody(t.Context(), who.id, oapi.UserPatch{Admin: true}, auth...)
	}},
	{id: "deleteUser", success: 204, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.DeleteUser(t.Context(), who.id, auth...)
	}},
	{id: "setUserPassword", success: 204, admin: true, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.SetUserPassword(t.Context(), who.id, oapi.PasswordSet{Password: newPassword}, auth...)
	}},
	{id: "revokeUserSessions", success: 204, admin: true, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.RevokeUserSessions(t.Context(), who.id, auth...)
	}},
	{id: "createBook", success: 201, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.CreateBook(t.Context(), &oapi.CreateBookParams{}, bookCreate(f.seq.Add(1)), auth...)
	}},
	{id: "listBooks", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		f.newBook(t, who)
		return c.ListBooks(t.Context(), &oapi.ListBooksParams{}, auth...)
	}},
	{id: "getBook", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		book, _ := f.newBook(t, who)
		return c.GetBook(t.Context(), book.Id, auth...)
	}},
	{id: "updateBook", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		book, _ := f.newBook(t, who)
		price := int64(999)
		return c.UpdateBookWithApplicationMergePatchPlusJSONBody(t.Context(), book.Id, &oapi.UpdateBookParams{}, oapi.BookPatch{PriceCents: &price}, auth...)
	}},
	{id: "deleteBook", success: 204, call: func(t *testing.T, f *fixture, c *oapi.Client, who *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		book, _ := f.newBook(t, who)
		return c.DeleteBook(t.Context(), book.Id, &oapi.DeleteBookParams{}, auth...)
	}},
	{id: "getRoot", success: 302, around: aroundRedirect, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetRoot(t.Context(), auth...)
	}},
	{id: "getHealth", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetHealth(t.Context(), auth...)
	}},
	{id: "getReadiness", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetReadiness(t.Context(), auth...)
	}},
	{id: "getOpenApiSpec", success: 200, call: func(t *testing.T, f *fixture, c *oapi.Client, _ *account, auth ...oapi.RequestEditorFn) (*http.Response, error) {
		return c.GetOpenApiSpec(t.Context(), auth...)
	}},
}

// Why requests go around the proxy. Prism validates each request before it
// forwards it and answers one that breaks the spec itself (422, 401 or 405,
// a problem of type https://stoplight.io/prism/errors#...), so the server's
// own answer to such a request can only be seen by sending it to the server
// directly. These are the only reasons a case may give.
const (
	aroundNoToken  = "Prism answers a request without the token the operation's security requires itself (401 #UNAUTHORIZED) and does not forward it"
	aroundTooBig   = "Prism parses a JSON body and forwards it re-serialised, so padding never reaches the server, and a body valid against the schema stays far below 1 MiB (every string has a maxLength, no additional properties)"
	aroundMedia    = "Prism never forwards a body that is not JSON: it answers a media type the operation does not take itself (422)"
	aroundInvalid  = "the request breaks the spec on purpose, and Prism answers it itself (422) instead of the server"
	aroundColon    = "Prism rejects an HTTP Basic password containing ':' (a Prism bug: RFC 7617 splits at the first colon only)"
	aroundFill     = "only filling a throttle: the requests that fill it are the success and error paths tested elsewhere; the refused request itself goes through Prism"
	aroundRedirect = "Prism's proxy follows a redirect upstream and validates the page it leads to (GET /docs/, 200) as the answer of the operation (500 #VIOLATIONS: 200 is not declared)"
	aroundBodiless = "Prism refuses a body on an operation that takes none itself (422)"
	aroundScheme   = "Prism refuses an Authorization header of another scheme than Basic on login itself (401 #UNAUTHORIZED), although the operation's security also allows no credentials ({})"
)

// contractCase is one request with the status it must get. around, when
// set, sends it straight to the server and says why.
type contractCase struct {
	name   string
	op     string
	status int
	around string
	// known pins a violation of the spec by the server that is reported
	// and not yet fixed: the case passes only while Prism still reports
	// it, so the entry goes once the spec or the server is right.
	known string
	run   func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error)
}

// casesFor derives the standard cases of op from the spec's security.
func casesFor(op operation, spec *openapi3.T) []contractCase {
	security := securityOf(spec, op.id)
	takesBearer := slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool { _, ok := r["bearerAuth"]; return ok })
	optional := len(security) == 0 || slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
	// request sends op's request about a fresh account (fresh: the success
	// path may delete it, log it out or change its password), or, for the
	// cases the server must refuse, about the fixture's bystander (an
	// account per case would cost two password hashes each). token picks
	// the caller's access token (none if nil); edit goes after it.
	request := func(fresh bool, token func(f *fixture, who *account) string, edit ...oapi.RequestEditorFn) func(*testing.T, *fixture, *oapi.Client) (*http.Response, error) {
		return func(t *testing.T, f *fixture, c *oapi.Client) (*http.Response, error) {
			who := f.bystander
			if fresh {
				who = f.newAccount(t)
			}
			var auth []oapi.RequestEditorFn
			if token != nil {
				auth = append(auth, bearer(token(f, who)))
			}
			return op.call(t, f, c, who, append(auth, edit...)...)
		}
	}
	own := func(_ *fixture, who *account) string { return who.tokens.AccessToken }
	rightful := own
	if op.admin {
		rightful = func(f *fixture, _ *account) string { return f.admin.tokens.AccessToken }
	}
	if !takesBearer {
		rightful = nil
	}
	cases := []contractCase{
		{name: "success", status: op.success, around: op.around, run: request(true, rightful)},
	}
	if takesBearer {
		cases = append(cases, contractCase{name: "two different tokens", status: 400,
			run: request(false, own, header("x-access-tokens", "not-the-same-token"))})
	} else {
		// A public operation never looks at a token: two different ones
		// change nothing.
		ignored := contractCase{name: "two different tokens, ignored", status: op.success, around: op.around,
			run: request(true, own, header("x-access-tokens", "not-the-same-token"))}
		takesBasic := slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool { _, ok := r["basicAuth"]; return ok })
		if takesBasic {
			ignored.around = aroundScheme
		}
		cases = append(cases, ignored)
	}
	if takesBearer {
		cases = append(cases, contractCase{name: "bad token", status: 401, run: request(false, nil, bearer("not-a-token"))})
		noToken := contractCase{name: "no token", status: 401, run: request(false, nil)}
		if !optional {
			noToken.around = aroundNoToken
		}
		cases = append(cases, noToken)
	}
	if op.admin {
		cases = append(cases, contractCase{name: "not an admin", status: 403, run: request(false, own)})
	}
	for i := range cases {
		cases[i].op = op.id
	}
	return cases
}

// securityOf returns an operation's security requirements (the global
// ones when it declares none).
func securityOf(spec *openapi3.T, id string) openapi3.SecurityRequirements {
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				if op.Security != nil {
					return *op.Security
				}
				return spec.Security
			}
		}
	}
	return nil
}

func TestContract(t *testing.T) {
	prism := os.Getenv(prismEnv)
	t.Parallel()
	spec, router := loadSpec(t)
	rec := newRecorder(router)
	f := newFixture(t, prism, rec)

	var cases []contractCase
	for _, op := range operations {
		cases = append(cases, casesFor(op, spec)...)
	}
	cases = append(cases, errorCases()...)
	// The cases share nothing but the admin: each makes its own accounts
	// and books and comes from client addresses of its own, so they run
	// in parallel (the group returns when all are done).
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.op+"/"+strconv.Itoa(tc.status)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				runCase(t, f, tc)
			})
		}
	})

	// The refused requests about the bystander changed nothing: it still
	// exists, with its password.
	f.login(t, f.bystander.username, f.bystander.password)

	// The report goes to stdout: .ci/prism runs the test binary directly,
	// which shows it without every subtest's lines.
	fmt.Printf("(operation, status) pairs produced: operation, status, way, count\n%s", pairTable(rec))
	fmt.Printf("requests sent around Prism, and why:\n%s", caseNotes(cases, func(tc contractCase) string { return tc.around }))
	fmt.Printf("  (and the requests that fill a throttle before the refused one: %s)\n", aroundFill)
	fmt.Printf("known violations pinned (the server answers what the spec does not declare):\n%s", caseNotes(cases, func(tc contractCase) string { return tc.known }))
	if missing := unproduced(spec, rec); len(missing) > 0 {
		fmt.Printf("declared (operation, status) pairs no request produced:\n  %s\n", strings.Join(missing, ", "))
	}
	if missing := uncalled(spec, operations, rec); len(missing) > 0 {
		t.Errorf("operations of the spec the suite never called successfully: %s", strings.Join(missing, ", "))
	}
}

func runCase(t *testing.T, f *fixture, tc contractCase) {
	doer := &checkingDoer{t: t, http: f.http, rec: f.rec, via: viaPrism}
	if tc.around != "" {
		doer.via = viaDirect
	}
	var seen []string
	if tc.known != "" {
		doer.expected = &seen
	}
	res, err := tc.run(t, f, f.clientWith(t, doer))
	want(t, res, err, tc.status)
	if got := f.rec.operation(res.Request); got != tc.op {
		t.Errorf("the request was for %q, not %q", got, tc.op)
	}
	if tc.known != "" {
		if len(seen) == 0 {
			t.Errorf("Prism no longer reports the known violation (%s): remove known from the case", tc.known)
		}
		for _, v := range seen {
			t.Logf("known violation (%s): %s", tc.known, v)
		}
	}
}

// uncalled lists the spec's operations that have no entry in ops or never
// answered with their success status (through Prism, unless the entry says
// why not).
func uncalled(spec *openapi3.T, ops []operation, rec *recorder) []string {
	var missing []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			id := op.OperationID
			i := slices.IndexFunc(ops, func(o operation) bool { return o.id == id })
			if i < 0 {
				missing = append(missing, id+" (no entry in the operations table)")
				continue
			}
			way := viaPrism
			if ops[i].around != "" {
				way = viaDirect
			}
			if rec.count(pair{op: id, status: ops[i].success, via: way}) == 0 {
				missing = append(missing, id)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// unproduced lists the declared (operation, status) pairs no request of
// the run got.
func unproduced(spec *openapi3.T, rec *recorder) []string {
	var missing []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					missing = append(missing, op.OperationID+" "+code)
					continue
				}
				if rec.count(pair{op.OperationID, status, viaPrism})+rec.count(pair{op.OperationID, status, viaDirect}) == 0 {
					missing = append(missing, op.OperationID+" "+code)
				}
			}
		}
	}
	slices.Sort(missing)
	return missing
}

func pairTable(rec *recorder) string {
	var b strings.Builder
	for _, p := range rec.sorted() {
		fmt.Fprintf(&b, "  %-20s %d  %-6s %d\n", p.op, p.status, p.via, rec.count(p))
	}
	return b.String()
}

// caseNotes lists the cases that have a note, one line each.
func caseNotes(cases []contractCase, note func(contractCase) string) string {
	var b strings.Builder
	for _, tc := range cases {
		if n := note(tc); n != "" {
			fmt.Fprintf(&b, "  %s %d %s: %s\n", tc.op, tc.status, tc.name, n)
		}
	}
	return b.String()
}

// TestUncalledNamesNewOperations shows the guard against operations the
// suite does not know: an operation added to the spec without an entry in
// the operations table, and one that has an entry but never answered with
// a 2xx through Prism, are both named.
func TestUncalledNamesNewOperations(t *testing.T) {
	spec, router := loadSpec(t)
	rec := newRecorder(router)
	for _, op := range operations {
		way := viaPrism
		if op.around != "" {
			way = viaDirect
		}
		rec.add(pair{op: op.id, status: op.success, via: way})
	}
	if missing := uncalled(spec, operations, rec); len(missing) > 0 {
		t.Fatalf("every operation answered, yet uncalled says %v", missing)
	}
	spec.Paths.Set("/new", &openapi3.PathItem{Get: &openapi3.Operation{OperationID: "newOperation", Responses: openapi3.NewResponses()}})
	onlyDirect := newRecorder(router)
	for _, op := range operations {
		way := viaPrism
		if op.around != "" || op.id == "getHealth" {
			way = viaDirect
		}
		onlyDirect.add(pair{op: op.id, status: op.success, via: way})
	}
	got := uncalled(spec, operations, onlyDirect)
	want := []string{"getHealth", "newOperation (no entry in the operations table)"}
	if !slices.Equal(got, want) {
		t.Errorf("uncalled = %q, want %q", got, want)
	}
}
