package httpapi

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// traceContext reads a caller's W3C traceparent and tracestate, so the
// server's span joins the caller's trace.
var traceContext propagation.TraceContext

// traced makes one server span per request, a child of the caller's span
// when the request carries a traceparent. It sits inside observe, so the
// span ends before the request's log line, which carries its trace_id.
// The span is named by the operationId the validator found (the method
// alone when none matched) and has the HTTP semantic-convention
// attributes. Without a tracer it is not installed at all.
func (s *Server) traced(next http.Handler) http.Handler {
	if s.tracer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := r.Method
		if !knownMethods[method] {
			method = "_OTHER"
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(method),
			semconv.URLScheme(scheme),
			semconv.URLPath(r.URL.Path),
			semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)),
		}
		if host, port, err := net.SplitHostPort(r.Host); err == nil {
			attrs = append(attrs, semconv.ServerAddress(host))
			if p, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, semconv.ServerPort(p))
			}
		} else if r.Host != "" {
			attrs = append(attrs, semconv.ServerAddress(r.Host))
		}
		if ua := r.UserAgent(); ua != "" {
			attrs = append(attrs, semconv.UserAgentOriginal(ua))
		}
		info := requestInfoFrom(ctx)
		if info != nil && info.clientIP != "" {
			attrs = append(attrs, semconv.ClientAddress(info.clientIP))
		}
		ctx, span := s.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		if info != nil {
			info.traceID = span.SpanContext().TraceID().String()
		}
		rec, ok := w.(*statusRecorder)
		if !ok {
			rec = &statusRecorder{ResponseWriter: w}
		}
		next.ServeHTTP(rec, r.WithContext(ctx))

		if info != nil && info.operationID != "" {
			span.SetName(info.operationID)
		}
		if info != nil && info.route != "" {
			span.SetAttributes(semconv.HTTPRoute(info.route))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			// Server spans fail on 5xx only: a 4xx is the caller's.
			span.SetStatus(codes.Error, "")
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		}
	})
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodOptions: true, http.MethodConnect: true, http.MethodTrace: true,
}
