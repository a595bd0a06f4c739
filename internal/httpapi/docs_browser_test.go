package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/bookstore/bookstore/internal/proctest"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/demo"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// chromium finds a Chromium to drive: $BOOKSTORE_CHROMIUM, else Debian's
// chromium (which .ci/run installs) or another Chrome on the PATH.
func chromium() string {
	if p := os.Getenv("BOOKSTORE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where browser tests leave screenshots:
// $BOOKSTORE_TEST_ARTIFACTS, else artifacts/ at the repository root
// (ignored by git).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("BOOKSTORE_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// browser is headless Chromium on a page of the test, with helpers that
// fail the test (and leave a screenshot) when a step fails. Console errors
// (a Content-Security-Policy violation, a failed asset, an exception) are
// collected for checkConsole.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu            sync.Mutex
	consoleErrors []string
}

// newBrowser starts Chromium, or skips t when there is none.
func newBrowser(t *testing.T) *browser {
	chrome := chromium()
	if chrome == "" {
		t.Skip("no chromium on this machine (apt-get install chromium, or set BOOKSTORE_CHROMIUM): Swagger UI not tested in a browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: bctx}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.consoleErrors = append(b.consoleErrors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// screenshot saves the viewport, or with full the whole page, as PNG.
func (b *browser) screenshot(name string, full bool) {
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Errorf("screenshot: %v", err)
		return
	}
	path := filepath.Join(artifactDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.screenshot("docs-failed.png", false)
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.screenshot("docs-failed.png", false)
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// tryOut runs an operation's "Try it out" with its example values and
// returns the status and body shown on the page.
func (b *browser) tryOut(op string) (status, body string) {
	b.t.Helper()
	sel := `#operations-` + op
	b.run("try out "+op,
		chromedp.Click(css(sel+` .opblock-summary-control`)),
		chromedp.Click(css(sel+` .try-out__btn`)),
		chromedp.Click(css(sel+` button.execute`)),
		chromedp.WaitVisible(css(sel+` .live-responses-table .response-col_description pre`)),
	)
	return strings.TrimSpace(b.text(sel + ` .live-responses-table .response .response-col_status`)),
		b.text(sel + ` .live-responses-table .response-col_description pre`)
}

// execute sends an operation whose "Try it out" is open again.
func (b *browser) execute(op string) (status, body string) {
	b.t.Helper()
	sel := `#operations-` + op
	b.run("execute "+op,
		chromedp.Click(css(sel+` button.btn-clear`)),
		chromedp.Click(css(sel+` button.execute`)),
		chromedp.WaitVisible(css(sel+` .live-responses-table .response-col_description pre`)),
	)
	return strings.TrimSpace(b.text(sel + ` .live-responses-table .response .response-col_status`)),
		b.text(sel + ` .live-responses-table .response-col_description pre`)
}

// checkConsole fails the test on console errors but the expected ones
// (substrings of the message).
func (b *browser) checkConsole(expected ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var unexpected []string
	for _, m := range b.consoleErrors {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(m, e) }) {
			unexpected = append(unexpected, m)
		}
	}
	if len(unexpected) > 0 {
		b.t.Errorf("console errors on /docs/:\n%s", strings.Join(unexpected, "\n"))
	}
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// docsAccount registers alice on srv with a book, through the API.
func docsAccount(t *testing.T, srv *demo.Server) (username, password string) {
	username, password = "alice", "tangerine walrus under glass"
	client, err := oapi.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: username, Password: password}); err != nil || res.JSON201 == nil {
		t.Fatalf("register: %v %s", err, res.Body)
	}
	login, err := client.LoginWithResponse(ctx, oapi.LoginRequest{Username: username, Password: password})
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v", err)
	}
	if res, err := client.CreateBookWithResponse(ctx, nil, oapi.BookCreate{
		// Swagger UI fills in the spec's examples, q=tolkien and author=J. R. R. Tolkien among them.
		Title: "The Hobbit", Author: "J. R. R. Tolkien", Publisher: "George Allen & Unwin", PriceCents: 1299,
	}, bearer(login.JSON200.AccessToken)); err != nil || res.JSON201 == nil {
		t.Fatalf("create book: %v %s", err, res.Body)
	}
	return username, password
}

// TestDocsInBrowser opens Swagger UI at /docs/ in headless Chromium, finds
// every operation of the spec on the page, logs in through "Try it out",
// authorizes with the access token it got, and lists books. It leaves a
// screenshot of the page in artifactDir.
func TestDocsInBrowser(t *testing.T) {
	b := newBrowser(t)
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	username, password := docsAccount(t, srv)

	// Every operation of the spec is on the page (Swagger UI gives each
	// the id operations-<tag>-<operationId>).
	b.run("open /docs/",
		chromedp.Navigate(srv.URL+"/docs/"),
		chromedp.WaitVisible(css(`#operations-auth-login`)),
	)
	ids, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock')).map(e => e.id)`))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	onPage := map[string]bool{}
	for _, id := range ids {
		onPage[id[strings.LastIndex(id, "-")+1:]] = true
	}
	var missing []string
	count := 0
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			count++
			if !onPage[op.OperationID] {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations not on the page: %s (found %v)", strings.Join(missing, ", "), ids)
	}
	t.Logf("%d operations of the spec on the page", count)
	b.screenshot("docs-operations.png", true)

	// Log in through "Try it out".
	const loginOp = `#operations-auth-login`
	b.run("log in through Try it out",
		chromedp.Click(css(loginOp+` .opblock-summary-control`)),
		chromedp.Click(css(loginOp+` .try-out__btn`)),
		chromedp.WaitVisible(css(loginOp+` textarea.body-param__text`)),
	)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { document.querySelector('`+loginOp+` textarea.body-param__text').select(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	b.run("send the credentials",
		chromedp.SendKeys(css(loginOp+` textarea.body-param__text`), fmt.Sprintf(`{"username": %q, "password": %q}`, username, password)),
		chromedp.Click(css(loginOp+` button.execute`)),
		chromedp.WaitVisible(css(loginOp+` .live-responses-table .response-col_description pre`)),
	)
	body := b.text(loginOp + ` .live-responses-table .response-col_description pre`)
	var pair oapi.TokenPair
	if err := json.Unmarshal([]byte(body), &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("the login response on the page is not a token pair: %v\n%s", err, body)
	}

	// Authorize: the bearerAuth scheme takes the access token.
	const bearerInput = `.modal-ux input[aria-label="auth-bearer-value"]`
	b.run("authorize",
		chromedp.Click(css(`.auth-wrapper .authorize`)),
		chromedp.WaitVisible(css(bearerInput)),
		chromedp.SendKeys(css(bearerInput), pair.AccessToken),
		chromedp.Click(css(`.modal-ux .auth-container:has(input[aria-label="auth-bearer-value"]) button[type=submit]`)),
		chromedp.WaitVisible(css(`.modal-ux .btn-done`)),
		chromedp.Click(css(`.modal-ux .btn-done`)),
		chromedp.WaitNotPresent(css(`.modal-ux`)),
	)

	// List the books with the token.
	status, body := b.tryOut("books-listBooks")
	b.run("scroll", chromedp.ScrollIntoView(css(`#operations-books-listBooks`)))
	b.screenshot("docs-list-books.png", false)
	if status != "200" || !strings.Contains(body, "The Hobbit") {
		t.Errorf("listBooks on the page: status %q, body %.300s", status, body)
	}
	b.checkConsole()
}

// TestDocsLoginPanel logs in once from the page's login panel, under the
// page's CSP: every call from Swagger UI then carries the access token
// without Authorize, the page refreshes it when it runs out (with
// two-second tokens here) and keeps the rotated refresh token, and
// logging out ends the session on the server.
func TestDocsLoginPanel(t *testing.T) {
	b := newBrowser(t)
	logs := &proctest.Buffer{}
	const ttl = 2 * time.Second
	srv, err := demo.Start(demo.Options{AccessTTL: ttl, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	username, password := docsAccount(t, srv)

	b.run("open /docs/ and log in from the panel",
		chromedp.Navigate(srv.URL+"/docs/"),
		chromedp.WaitVisible(css(`#operations-books-listBooks`)),
		chromedp.SendKeys(css(`#login-username`), username),
		chromedp.SendKeys(css(`#login-password`), password),
		chromedp.Click(css(`#login-submit`)),
		chromedp.WaitVisible(css(`#login-session`)),
	)
	if got := b.text(`#login-status`); !strings.Contains(got, "Logged in as alice") {
		t.Fatalf("panel status %q", got)
	}
	b.screenshot("docs-login-panel.png", false)

	// No Authorize: the panel's token goes with the call.
	status, body := b.tryOut("books-listBooks")
	if status != "200" || !strings.Contains(body, "The Hobbit") {
		t.Fatalf("listBooks after the panel's login: status %q, body %.300s", status, body)
	}
	// Twice past the access token's lifetime: each call needs a refresh,
	// the second with the refresh token the first one returned (a spent
	// one would end the session).
	for i := range 2 {
		time.Sleep(ttl + 500*time.Millisecond)
		if status, body := b.execute("books-listBooks"); status != "200" {
			t.Fatalf("listBooks %d after the token expired: status %q, body %.300s", i+2, status, body)
		}
	}
	if n := requestLines(logs.String(), "refreshToken", 200); n < 2 {
		t.Errorf("%d successful refreshes, want at least 2:\n%s", n, logs)
	}
	if requestLines(logs.String(), "refreshToken", 401) > 0 {
		t.Errorf("a refresh was refused (a spent refresh token reused?):\n%s", logs)
	}

	// Logging out ends the session on the server; calls go without a token.
	b.run("log out",
		chromedp.Click(css(`#logout`)),
		chromedp.WaitVisible(css(`#login-form`)),
	)
	if status, _ := b.execute("books-listBooks"); status != "401" {
		t.Errorf("listBooks after logging out: status %q, want 401", status)
	}
	if requestLines(logs.String(), "logout", 204) != 1 {
		t.Errorf("no logout reached the server:\n%s", logs)
	}

	// The browser reports the 401 after logging out, as it should.
	b.checkConsole("the server responded with a status of 401")
}

// TestDocsCSP checks, without a browser, that the page needs no inline
// script: its CSP allows scripts from the server only, the page has no
// inline script, and its start-up script is served as a file.
func TestDocsCSP(t *testing.T) {
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	res, err := http.Get(srv.URL + "/docs/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /docs/: %d %v", res.StatusCode, err)
	}
	csp := res.Header.Get("Content-Security-Policy")
	scriptSrc := ""
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			scriptSrc = strings.TrimSpace(d)
		}
	}
	if scriptSrc != "script-src 'self'" {
		t.Errorf("the page's script-src is %q, want script-src 'self': %s", scriptSrc, csp)
	}
	if n, m := strings.Count(string(page), "<script"), strings.Count(string(page), `<script src="`); n != m || n == 0 {
		t.Errorf("the page has %d scripts, %d of them files:\n%s", n, m, page)
	}
	res, err = http.Get(srv.URL + "/docs/bookstore.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(string(js), "requestInterceptor") {
		t.Errorf("GET /docs/bookstore.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// requestLines counts the request log lines of an operation answered with
// status.
func requestLines(log, operation string, status int) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"operation":"`+operation+`"`) && strings.Contains(line, fmt.Sprintf(`"status":%d,`, status)) {
			n++
		}
	}
	return n
}
