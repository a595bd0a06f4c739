package contracttest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/bookstore/bookstore/api"
	"github.com/bookstore/bookstore/internal/proctest"
)

// prismEnv names the prism executable; without it the suite skips.
const prismEnv = "BOOKSTORE_TEST_PRISM"

// prismErrorType starts the type of every problem document Prism writes
// itself: for a response that breaks the spec (#VIOLATIONS, a 500), for a
// request it refuses (#UNPROCESSABLE_ENTITY, 422), for a missing token
// (#UNAUTHORIZED) or an unknown route. The server never sends it.
const prismErrorType = "https://stoplight.io/prism/errors#"

// Via says which way a request went.
type via string

const (
	viaPrism  via = "prism"  // through the validating proxy
	viaDirect via = "direct" // to the server, around the proxy
)

// specPath is api/openapi.yaml in this checkout, the file Prism reads.
func specPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "api", "openapi.yaml")
}

// loadSpec parses the embedded spec; the suite uses it to name the
// operation of each request and to list the operations it must call.
func loadSpec(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	spec, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	if err != nil {
		tb.Fatal(err)
	}
	spec.Servers = nil // route by path alone, whatever host the request went to
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		tb.Fatal(err)
	}
	return spec, router
}

// startPrism runs `prism proxy SPEC UPSTREAM --errors` on a free port and
// waits until it answers. It is stopped when the test ends.
func startPrism(tb testing.TB, prism, spec, upstream string) string {
	tb.Helper()
	_, port, err := net.SplitHostPort(proctest.FreeAddr(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(prism, "proxy", spec, upstream, "--errors", "--host", "127.0.0.1", "--port", port)
	var log proctest.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	// Its own process group, so that the cleanup ends node and anything
	// it started, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start prism: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if tb.Failed() {
			tb.Logf("prism's log (last 4000 bytes):\n%s", tail(log.String(), 4000))
		}
	})
	url := "http://127.0.0.1:" + port
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("prism exited at start: %v\n%s", err, log.String())
		default:
		}
		// Prism listens once it has read the spec: any answer will do
		// (a spec broken on purpose may make it a 500).
		if res, err := http.Get(url + "/healthz"); err == nil {
			res.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("prism did not answer within 60 s\n%s", log.String())
	return ""
}

// violations returns what is wrong with a response that came through
// Prism, in Prism's words: the sl-violations header it adds to a response
// it finds at odds with the spec (with --errors, errors replace the
// server's answer with a #VIOLATIONS 500; warnings, such as an undeclared
// status, only add the header), and any answer Prism wrote itself, which
// means the server never saw the request.
func violations(res *http.Response, body []byte) []string {
	var found []string
	if v := res.Header.Values("sl-violations"); len(v) > 0 {
		found = append(found, "Prism reports violations (sl-violations): "+strings.Join(v, "; "))
	}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &p) == nil && strings.HasPrefix(p.Type, prismErrorType) {
			found = append(found, fmt.Sprintf("Prism answered itself with %d: %s", res.StatusCode, body))
		}
	}
	return found
}

// pair is an operation, a status it answered with and the way it went.
type pair struct {
	op     string
	status int
	via    via
}

// recorder counts the (operation, status) pairs the suite produced.
type recorder struct {
	router routers.Router
	mu     sync.Mutex
	pairs  map[pair]int
}

func newRecorder(router routers.Router) *recorder {
	return &recorder{router: router, pairs: map[pair]int{}}
}

// operation names the spec operation a request is for ("" if none).
func (r *recorder) operation(req *http.Request) string {
	if op := r.route(req); op != nil {
		return op.OperationID
	}
	return ""
}

// route returns the spec operation a request is for (nil if none).
func (r *recorder) route(req *http.Request) *openapi3.Operation {
	route, _, err := r.router.FindRoute(req)
	if err != nil {
		return nil
	}
	return route.Operation
}

func (r *recorder) add(p pair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pairs[p]++
}

// sorted returns the pairs in operation, status, way order.
func (r *recorder) sorted() []pair {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pair
	for p := range r.pairs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pair) int {
		if c := strings.Compare(a.op, b.op); c != 0 {
			return c
		}
		if a.status != b.status {
			return a.status - b.status
		}
		return strings.Compare(string(a.via), string(b.via))
	})
	return out
}

func (r *recorder) count(p pair) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pairs[p]
}

// checkingDoer sends requests for one test, reads each response whole,
// records its (operation, status) pair and, for responses that came
// through Prism, fails the test with every violation Prism reports.
type checkingDoer struct {
	t    testing.TB
	http *http.Client
	rec  *recorder
	via  via
	// address is the client address the server is told (X-Forwarded-For)
	// unless the request names one: each client has its own, so that the
	// throttles count each test apart.
	address string
	// expected, when set, collects Prism's violations instead of failing
	// the test: for a case that pins a known violation.
	expected *[]string
}

func (d *checkingDoer) Do(req *http.Request) (*http.Response, error) {
	if d.address != "" && req.Header.Get("X-Forwarded-For") == "" {
		req.Header.Set("X-Forwarded-For", d.address)
	}
	res, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	operation := d.rec.route(req)
	if operation == nil {
		d.t.Errorf("%s %s is no operation of the spec", req.Method, req.URL.Path)
		return res, nil
	}
	var found []string
	switch d.via {
	case viaPrism:
		found = violations(res, body)
	case viaDirect:
		// No validator saw this response: at least its status must be
		// one the operation declares.
		if operation.Responses.Status(res.StatusCode) == nil {
			found = append(found, fmt.Sprintf("status %d is not declared for %s (sent around Prism: status checked by lookup only)", res.StatusCode, operation.OperationID))
		}
	}
	for _, v := range found {
		if d.expected != nil {
			*d.expected = append(*d.expected, v)
			continue
		}
		d.t.Errorf("%s %s (%s) → %d: %s", req.Method, req.URL.RequestURI(), operation.OperationID, res.StatusCode, v)
	}
	d.rec.add(pair{op: operation.OperationID, status: res.StatusCode, via: d.via})
	return res, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// skipMessage is the line the package prints when it skips.
const skipMessage = "contracttest: skipped: set " + prismEnv + " to the prism executable to run the Prism contract suite (make contract installs it)"
