package tracing

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// QueryTracer is pgx's tracer hook: each query PostgreSQL runs becomes a
// client span named after the sqlc query ("-- name: FindBookByID :one"),
// or its first keyword, with the SQL text (never its arguments).
type QueryTracer struct{ tracer trace.Tracer }

var _ pgx.QueryTracer = QueryTracer{}

// NewQueryTracer returns a pgx tracer that records spans with tp.
func NewQueryTracer(tp trace.TracerProvider) QueryTracer {
	return QueryTracer{tracer: tp.Tracer(instrumentation)}
}

func (t QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	name := queryName(data.SQL)
	ctx, _ = t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.DBSystemNamePostgreSQL, semconv.DBOperationName(name), semconv.DBQueryText(data.SQL)))
	return ctx
}

func (t QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, "")
		span.SetAttributes(semconv.ErrorTypeKey.String("query"))
	}
	span.End()
}

// queryName is the name sqlc gave a query, else its first word.
func queryName(sql string) string {
	sql = strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(sql, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	word, _, _ := strings.Cut(sql, " ")
	return strings.ToUpper(strings.TrimSpace(word))
}
