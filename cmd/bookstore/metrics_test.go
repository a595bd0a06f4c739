package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/internal/postgres/pgtest"
)

func getMetrics(t *testing.T, addr string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The server serves /metrics by default, with the database pools and the
// Go runtime beside the API's own metrics.
func TestMetricsEndpoint(t *testing.T) {
	m, _ := NewTestMain(t, nil)
	MustRunMain(t, m)
	c := newClient(t, m.Addr())
	if res, err := c.GetHealthWithResponse(t.Context()); err != nil || res.JSON200 == nil {
		t.Fatalf("healthz: %v", err)
	}
	status, body := getMetrics(t, m.Addr())
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	// The pools of the engine under test: SQLite's one writer and its
	// readers, or PostgreSQL's one pool.
	pools := []string{`go_sql_max_open_connections{db_name="writer"} 1`, `go_sql_open_connections{db_name="reader"}`}
	if engine == pgtest.Postgres {
		pools = []string{`go_sql_max_open_connections{db_name="pool"}`, `go_sql_open_connections{db_name="pool"}`}
	}
	for _, want := range append(pools,
		`bookstore_http_requests_total{code="200",operation="getHealth"} 1`,
		`bookstore_logins_total{result="failed"} 0`,
		`bookstore_password_hashes_total `,
		`go_goroutines `,
		`go_memstats_heap_alloc_bytes `,
		`process_resident_memory_bytes `,
	) {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMetricsOff(t *testing.T) {
	m, _ := NewTestMain(t, map[string]string{"BOOKSTORE_METRICS": "off"})
	MustRunMain(t, m)
	if status, _ := getMetrics(t, m.Addr()); status != 404 {
		t.Errorf("GET /metrics with BOOKSTORE_METRICS=off: %d", status)
	}
	if _, err := parseServeConfig(nil, map[string]string{"BOOKSTORE_METRICS": "maybe"}); err == nil || !strings.Contains(err.Error(), "BOOKSTORE_METRICS") {
		t.Errorf("BOOKSTORE_METRICS=maybe: %v", err)
	}
}
