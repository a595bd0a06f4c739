package contracttest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/internal/proctest"
)

// TestPrismReportsViolations shows that the suite's check can fail: Prism
// runs in front of the real server with a copy of the spec that the server
// breaks in the two ways Prism tells apart. A body that breaks its schema
// is an error (with --errors Prism answers 500 #VIOLATIONS instead of the
// server); an undeclared status is only a warning (the server's answer
// goes through with an sl-violations header). violations must report both.
func TestPrismReportsViolations(t *testing.T) {
	prism := os.Getenv(prismEnv)
	t.Parallel()
	spec, _ := loadSpec(t)
	// Health.status may only be "great": the server's "ok" breaks it.
	spec.Components.Schemas["Health"].Value.Properties["status"].Value.Enum = []any{"great"}
	// GET /users/me no longer declares 401.
	spec.Paths.Find("/users/me").Get.Responses.Delete("401")
	doc, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	server := proctest.Start(t, proctest.FreeAddr(t), "BOOKSTORE_DATABASE_URL="+filepath.Join(t.TempDir(), "bookstore.db"))
	url := startPrism(t, prism, broken, server.URL)

	get := func(path string, header http.Header) []string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return violations(res, body)
	}
	assertReported := func(what string, found []string, want ...string) {
		t.Helper()
		all := strings.Join(found, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: violations do not mention %q:\n%s", what, w, all)
			}
		}
	}

	assertReported("a body against its schema", get("/healthz", nil),
		"sl-violations", "Prism answered itself with 500", "#VIOLATIONS", "status")
	assertReported("an undeclared status", get("/users/me", http.Header{"Authorization": {"Bearer not-a-token"}}),
		"sl-violations", "Unable to match the returned status code")
	// And the unbroken operations pass.
	if found := get("/openapi.yaml", nil); len(found) > 0 {
		t.Errorf("GET /openapi.yaml: %s", strings.Join(found, "\n"))
	}
}
