package auth

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TraceWith records each argon2id computation (after its wait for a
// hashing slot) as a span "argon2id" of tp, with its cost parameters. Call
// it before the Hasher is used; without it nothing is recorded.
func (h *Hasher) TraceWith(tp trace.TracerProvider) {
	h.tracer = tp.Tracer("github.com/bookstore/bookstore")
}

// traceHash starts the span of one hash and returns what ends it.
func (h *Hasher) traceHash(ctx context.Context, p Argon2Params) (end func()) {
	if h.tracer == nil {
		return func() {}
	}
	_, span := h.tracer.Start(ctx, "argon2id", trace.WithAttributes(
		attribute.Int("argon2.memory_kib", int(p.Memory)),
		attribute.Int("argon2.iterations", int(p.Iterations)),
		attribute.Int("argon2.parallelism", int(p.Parallelism)),
	))
	return func() { span.End() }
}
