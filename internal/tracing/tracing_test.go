package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/bookstore/bookstore/internal/proctest"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/client"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/demo"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/tracing"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    string // protocol; "" off
		wantErr string
	}{
		{env: nil, want: ""},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, want: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, want: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: "grpc"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, want: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, want: ""},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, want: ""},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "OTEL_EXPORTER_OTLP_PROTOCOL"},
	} {
		got, err := tracing.FromEnv(func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want one naming %s", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Protocol != tc.want || got.On() != (tc.want != "") {
			t.Errorf("%v: %+v, %v; want protocol %q", tc.env, got, err, tc.want)
		}
	}
}

// traced starts the real API with tracing into an in-memory recorder, and
// a client logged in as alice whose calls carry the span of ctx.
func traced(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer, *client.Client, *proctest.Buffer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	logs := &proctest.Buffer{}
	srv, err := demo.Start(demo.Options{Tracer: tp, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Register(ctx, "alice", "tangerine walrus under glass"); err != nil {
		t.Fatal(err)
	}
	return rec, tp.Tracer("test"), c, logs
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func findSpan(spans []sdktrace.ReadOnlySpan, name string, parent trace.SpanID) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name && s.Parent().SpanID() == parent {
			return s
		}
	}
	return nil
}

// tree renders the spans under root, indented, for the test log.
func tree(spans []sdktrace.ReadOnlySpan, root sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(&b, "%s%s (%s)", strings.Repeat("  ", depth), s.Name(), s.SpanKind())
		for _, kv := range s.Attributes() {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
		b.WriteString("\n")
		for _, c := range spans {
			if c.Parent().SpanID() == s.SpanContext().SpanID() {
				walk(c, depth+1)
			}
		}
	}
	walk(root, 0)
	return b.String()
}

// A POST /books made under a caller's span: the client passes the trace
// on, the server's span is that span's child and is named by operationId
// with the HTTP attributes, the store calls are its children, and the
// request's log line carries the trace id.
func TestCreateBookSpanTree(t *testing.T) {
	rec, tracer, c, logs := traced(t)
	ctx, parent := tracer.Start(context.Background(), "caller")
	if err := c.Login(ctx, "alice", "tangerine walrus under glass"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBook(ctx, client.BookCreate{Title: "Dune", Author: "Frank Herbert", Publisher: "Chilton", PriceCents: 999}, ""); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := rec.Ended()

	server := findSpan(spans, "createBook", parent.SpanContext().SpanID())
	if server == nil {
		t.Fatalf("no createBook span under the caller's span; spans: %v", names(spans))
	}
	if server.SpanKind() != trace.SpanKindServer || server.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("createBook: kind %s, trace %s; want a server span in the caller's trace", server.SpanKind(), server.SpanContext().TraceID())
	}
	for key, want := range map[string]string{
		"http.request.method":       "POST",
		"http.route":                "/books",
		"url.path":                  "/books",
		"url.scheme":                "http",
		"http.response.status_code": "201",
		"server.address":            "127.0.0.1",
		"client.address":            "127.0.0.1",
		"network.protocol.version":  "1.1",
	} {
		if v, ok := attr(server, key); !ok || v.Emit() != want {
			t.Errorf("createBook %s = %q, want %q", key, v.Emit(), want)
		}
	}
	for _, op := range []string{"AuthenticateSession", "CreateBook"} {
		db := findSpan(spans, op, server.SpanContext().SpanID())
		if db == nil {
			t.Errorf("no %s span under createBook", op)
			continue
		}
		if v, _ := attr(db, "db.system.name"); v.Emit() != "sqlite" || db.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s: db.system.name %q, kind %s", op, v.Emit(), db.SpanKind())
		}
		if v, _ := attr(db, "db.operation.name"); v.Emit() != op {
			t.Errorf("%s: db.operation.name %q", op, v.Emit())
		}
	}
	t.Logf("the span tree of one POST /books:\n%s", tree(spans, server))

	// The password hash of the login is a span of its own.
	login := findSpan(spans, "login", parent.SpanContext().SpanID())
	if login == nil {
		t.Fatalf("no login span; spans: %v", names(spans))
	}
	if findSpan(spans, "argon2id", login.SpanContext().SpanID()) == nil {
		t.Errorf("no argon2id span under login:\n%s", tree(spans, login))
	}

	// The log line of the request names the trace.
	traceID := server.SpanContext().TraceID().String()
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"operation":"createBook"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"trace_id":"`+traceID+`"`) {
		t.Errorf("the createBook log line lacks trace_id %s: %s", traceID, line)
	}
}

// Without a traceparent the server starts a trace of its own; a 4xx is
// not an error span, and a request outside the spec is named by method.
func TestServerSpansWithoutCaller(t *testing.T) {
	rec, _, c, _ := traced(t)
	ctx := context.Background()
	_, err := c.ListBooks(ctx, nil) // not logged in: 401
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != 401 {
		t.Fatalf("err = %v, want 401", err)
	}
	req, _ := c.NewRequest(ctx, "GET", "/no/such/path", nil)
	if _, err := c.Do(ctx, req); err == nil {
		t.Fatal("no error for an unknown path")
	}
	spans := rec.Ended()
	list := findSpan(spans, "listBooks", trace.SpanID{})
	if list == nil {
		t.Fatalf("no root listBooks span; spans: %v", names(spans))
	}
	if v, _ := attr(list, "http.response.status_code"); v.Emit() != "401" || list.Status().Code.String() == "Error" {
		t.Errorf("listBooks: status %s, span status %s; want 401 and not an error", v.Emit(), list.Status().Code)
	}
	unknown := findSpan(spans, "GET", trace.SpanID{})
	if unknown == nil {
		t.Fatalf("no span named GET for the unknown path; spans: %v", names(spans))
	}
	if _, ok := attr(unknown, "http.route"); ok {
		t.Error("an unmatched request has an http.route")
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// On PostgreSQL each query is a span under its store call, named after the
// sqlc query, with the SQL text and never the arguments.
func TestPostgresQuerySpans(t *testing.T) {
	_, url := pgtest.Schema(t) // skips without BOOKSTORE_TEST_POSTGRES_URL
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.WithQueryTracer(tracing.NewQueryTracer(tp)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	store := tracing.WrapStore(db, tp, tracing.PostgreSQL)
	u := bookstore.User{ID: uuid.Must(uuid.NewV7()), Username: "alice", PasswordHash: "$argon2id$secret-looking", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindUserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindUserByID(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, bookstore.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	spans := rec.Ended()
	var calls []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "FindUserByID" && !s.Parent().IsValid() {
			calls = append(calls, s)
		}
	}
	if len(calls) != 2 {
		t.Fatalf("%d FindUserByID store spans, want 2; spans: %v", len(calls), names(spans))
	}
	for _, call := range calls {
		if v, _ := attr(call, "db.system.name"); v.Emit() != "postgresql" {
			t.Errorf("store span db.system.name = %q", v.Emit())
		}
		if call.Status().Code.String() == "Error" {
			t.Error("a not-found is marked as an error")
		}
		query := findSpan(spans, "FindUserByID", call.SpanContext().SpanID())
		if query == nil {
			t.Fatalf("no query span under the store call:\n%s", tree(spans, call))
		}
		text, _ := attr(query, "db.query.text")
		if !strings.Contains(text.Emit(), "SELECT") {
			t.Errorf("db.query.text = %q", text.Emit())
		}
		t.Logf("%s", tree(spans, call))
	}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), "secret-looking") {
				t.Errorf("span %s holds an argument: %s", s.Name(), kv.Key)
			}
		}
	}
}

// Off (the default), a request with a traceparent is served as any other:
// no trace id in the log.
func TestTracingOff(t *testing.T) {
	logs := &proctest.Buffer{}
	srv, err := demo.Start(demo.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	ctx, span := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("caller").Start(context.Background(), "caller")
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "alice", "tangerine walrus under glass"); err != nil {
		t.Fatal(err)
	}
	span.End()
	if !strings.Contains(logs.String(), `"operation":"registerUser"`) || strings.Contains(logs.String(), "trace_id") {
		t.Fatalf("log with tracing off:\n%s", logs)
	}
}

// Every store method is traced: one that the wrapper does not override
// (added to the interface later, say) would pass through without a span.
func TestStoreTracesEveryMethod(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	// The inner store is nil: each call panics after its span started.
	store := reflect.ValueOf(tracing.WrapStore(struct{ bookstore.Store }{}, tp, tracing.SQLite))
	iface := reflect.TypeFor[bookstore.Store]()
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		if m.Name == "Close" {
			continue // not a database call
		}
		fn := store.MethodByName(m.Name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(fn.Type().In(j))
		}
		args[0] = reflect.ValueOf(context.Background())
		func() {
			defer func() { _ = recover() }()
			fn.Call(args)
		}()
		started := rec.Started()
		if len(started) == 0 || started[len(started)-1].Name() != m.Name {
			t.Errorf("%s makes no span of its own", m.Name)
		}
	}
}
