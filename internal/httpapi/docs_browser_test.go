package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestDocsInBrowser opens Swagger UI at /docs/ in headless Chromium, finds
// every operation of the spec on the page, logs in through "Try it out",
// authorizes with the access token it got, and lists books. It leaves a
// screenshot of the page in artifactDir.
func TestDocsInBrowser(t *testing.T) {
	chrome := chromium()
	if chrome == "" {
		t.Skip("no chromium on this machine (apt-get install chromium, or set BOOKSTORE_CHROMIUM): Swagger UI not tested in a browser")
	}
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	// An account with a book, made through the API.
	const username, password = "alice", "tangerine walrus under glass"
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

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	// Console errors (a Content-Security-Policy violation, a failed asset,
	// an exception) fail the test.
	var mu sync.Mutex
	var consoleErrors []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String())
				mu.Unlock()
			}
		}
	}()

	// screenshot saves the viewport, or with full the whole page, as PNG.
	screenshot := func(name string, full bool) {
		shot := chromedp.CaptureScreenshot()
		if full {
			shot = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(bctx, shot)
		if err != nil {
			t.Errorf("screenshot: %v", err)
			return
		}
		path := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Error(err)
			return
		}
		t.Logf("screenshot: %s", path)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			screenshot("docs-failed.png", false)
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			screenshot("docs-failed.png", false)
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// Every operation of the spec is on the page (Swagger UI gives each
	// the id operations-<tag>-<operationId>).
	run("open /docs/",
		chromedp.Navigate(srv.URL+"/docs/"),
		chromedp.WaitVisible(css(`#operations-auth-login`)),
	)
	ids, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock')).map(e => e.id)`))
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
	screenshot("docs-operations.png", true)

	// Log in through "Try it out".
	const loginOp = `#operations-auth-login`
	run("log in through Try it out",
		chromedp.Click(css(loginOp+` .opblock-summary-control`)),
		chromedp.Click(css(loginOp+` .try-out__btn`)),
		chromedp.WaitVisible(css(loginOp+` textarea.body-param__text`)),
	)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { document.querySelector('`+loginOp+` textarea.body-param__text').select(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	run("send the credentials",
		chromedp.SendKeys(css(loginOp+` textarea.body-param__text`), fmt.Sprintf(`{"username": %q, "password": %q}`, username, password)),
		chromedp.Click(css(loginOp+` button.execute`)),
		chromedp.WaitVisible(css(loginOp+` .live-responses-table .response-col_description pre`)),
	)
	body := text(loginOp + ` .live-responses-table .response-col_description pre`)
	var pair oapi.TokenPair
	if err := json.Unmarshal([]byte(body), &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("the login response on the page is not a token pair: %v\n%s", err, body)
	}

	// Authorize: the bearerAuth scheme takes the access token.
	const bearerInput = `.modal-ux input[aria-label="auth-bearer-value"]`
	run("authorize",
		chromedp.Click(css(`.auth-wrapper .authorize`)),
		chromedp.WaitVisible(css(bearerInput)),
		chromedp.SendKeys(css(bearerInput), pair.AccessToken),
		chromedp.Click(css(`.modal-ux .auth-container:has(input[aria-label="auth-bearer-value"]) button[type=submit]`)),
		chromedp.WaitVisible(css(`.modal-ux .btn-done`)),
		chromedp.Click(css(`.modal-ux .btn-done`)),
		chromedp.WaitNotPresent(css(`.modal-ux`)),
	)

	// List the books with the token.
	const listOp = `#operations-books-listBooks`
	run("list books through Try it out",
		chromedp.Click(css(listOp+` .opblock-summary-control`)),
		chromedp.Click(css(listOp+` .try-out__btn`)),
		chromedp.Click(css(listOp+` button.execute`)),
		chromedp.WaitVisible(css(listOp+` .live-responses-table .response-col_description pre`)),
	)
	status := text(listOp + ` .live-responses-table .response .response-col_status`)
	body = text(listOp + ` .live-responses-table .response-col_description pre`)
	run("scroll", chromedp.ScrollIntoView(css(listOp)))
	screenshot("docs-list-books.png", false)
	if strings.TrimSpace(status) != "200" || !strings.Contains(body, "The Hobbit") {
		t.Errorf("listBooks on the page: status %q, body %.300s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors on /docs/:\n%s", strings.Join(consoleErrors, "\n"))
	}
}
