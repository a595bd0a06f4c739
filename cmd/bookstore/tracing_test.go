package main

import (
	"context"
	"encoding/hex"
	"github.com/bookstore/bookstore/internal/proctest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/bookstore/bookstore/client"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
)

// otlpReceiver is a minimal OTLP/HTTP trace receiver: it keeps every span
// exported to POST /v1/traces.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	names map[string]string // resource attribute service.name per export
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces in protobuf", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				o.names["service.name"] = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestTracingToOTLPCollector runs the program as main does with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver started here: the
// spans of a request made under a caller's trace reach it, parented
// across the process boundary, and the request's log line has the trace
// id. Not parallel: the exporter reads the process environment.
func TestTracingToOTLPCollector(t *testing.T) {
	recv := &otlpReceiver{names: map[string]string{}}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "bookstore-e2e")
	env := map[string]string{
		"BOOKSTORE_ADDR":              "127.0.0.1:0",
		"BOOKSTORE_DATABASE_URL":      testDatabase(t),
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
	}
	stderr := &proctest.Buffer{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, stderr, func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return os.Getenv(k)
		})
	}()
	addr := waitListening(t, stderr, status)
	// PostgreSQL may come after listening.
	waitLog(t, stderr, status, regexp.MustCompile(`"msg":"serving the API"`))
	if !strings.Contains(stderr.String(), `"msg":"tracing on","protocol":"http/protobuf"`) {
		t.Fatalf("the log does not say tracing is on:\n%s", stderr)
	}

	// The caller's own trace, from an SDK of its own.
	callerSpans := tracetest.NewSpanRecorder()
	caller := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(callerSpans)).Tracer("caller")
	cctx, parent := caller.Start(context.Background(), "caller")
	c, err := client.New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(cctx, "alice", "tangerine walrus under glass"); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(cctx, "alice", "tangerine walrus under glass"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBook(cctx, client.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, ""); err != nil {
		t.Fatal(err)
	}
	parent.End()

	// Shutting down flushes the batch of spans.
	stop()
	if s := <-status; s != 0 {
		t.Fatalf("exit status %d:\n%s", s, stderr)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.names["service.name"] != "bookstore-e2e" {
		t.Errorf("service.name = %q, want OTEL_SERVICE_NAME's", recv.names["service.name"])
	}
	traceID := parent.SpanContext().TraceID()
	parentID := parent.SpanContext().SpanID()
	byID := map[string]*tracepb.Span{}
	var create *tracepb.Span
	for _, s := range recv.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		if s.Name == "createBook" {
			create = s
		}
	}
	if create == nil {
		t.Fatalf("no createBook span among %d received", len(recv.spans))
	}
	if hex.EncodeToString(create.TraceId) != traceID.String() || hex.EncodeToString(create.ParentSpanId) != parentID.String() {
		t.Errorf("createBook is not the caller's span's child: trace %x parent %x", create.TraceId, create.ParentSpanId)
	}
	if create.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("createBook kind %s", create.Kind)
	}
	children := map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		if hex.EncodeToString(s.ParentSpanId) == hex.EncodeToString(create.SpanId) {
			children[s.Name] = s
		}
	}
	if children["CreateBook"] == nil || children["AuthenticateSession"] == nil {
		t.Errorf("createBook's children: %v; want the store calls", children)
	} else if engine, _ := pgtest.Engine(); engine == pgtest.Postgres {
		// On PostgreSQL the store call's queries are its children.
		queries := 0
		for _, s := range recv.spans {
			if hex.EncodeToString(s.ParentSpanId) == hex.EncodeToString(children["CreateBook"].SpanId) {
				queries++
			}
		}
		if queries == 0 {
			t.Error("no PostgreSQL query spans under the CreateBook store call")
		}
	}
	var argon bool
	for _, s := range recv.spans {
		if s.Name == "argon2id" && hex.EncodeToString(s.TraceId) == traceID.String() {
			argon = true
		}
	}
	if !argon {
		t.Error("no argon2id span in the caller's trace")
	}
	if !regexp.MustCompile(`"operation":"createBook"[^\n]*"trace_id":"` + traceID.String() + `"`).MatchString(stderr.String()) {
		t.Errorf("the createBook log line lacks the trace id:\n%s", stderr)
	}
}
