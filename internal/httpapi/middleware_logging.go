package httpapi

import (
	"context"
	"log/slog"
)

// requestIDHandler adds the request's id (and, when tracing, its trace id)
// to every log record written with the request's context (the request
// line, audit events, errors, debug lines), so each can be tied to its
// request line, to the problem document's instance and to the trace.
type requestIDHandler struct{ slog.Handler }

// withRequestIDs wraps log so records logged with a request context carry
// request_id.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(requestIDHandler); ok {
		return log
	}
	return slog.New(requestIDHandler{log.Handler()})
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := requestInfoFrom(ctx); info != nil && info.id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", info.id))
		}
		if info.traceID != "" {
			r.AddAttrs(slog.String("trace_id", info.traceID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
