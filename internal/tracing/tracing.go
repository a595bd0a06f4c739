// Package tracing turns on OpenTelemetry tracing when the standard OTEL_*
// environment variables configure an exporter, and traces what the HTTP
// layer cannot see: the store's calls (either engine) and PostgreSQL's
// queries. Tracing is off by default; off, nothing here is installed, so it
// costs nothing.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// instrumentation names the tracer of this program's spans.
const instrumentation = "github.com/bookstore/bookstore"

// Exporter is what the environment asks for.
type Exporter struct {
	// Protocol is "grpc" or "http/protobuf"; "" when tracing is off.
	Protocol string
}

// FromEnv decides from the standard variables (read through getenv)
// whether to trace and how:
//
//   - off when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none;
//   - on with OTEL_TRACES_EXPORTER=otlp, or when it is unset and
//     OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
//     set (the exporter's default endpoint alone does not turn it on);
//   - over OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
//     OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (the default) or grpc.
//
// Other exporters and protocols are an error naming the variable.
func FromEnv(getenv func(string) string) (Exporter, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return Exporter{}, nil
	}
	switch exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exporter {
	case "none":
		return Exporter{}, nil
	case "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return Exporter{}, nil
		}
	case "otlp":
	default:
		return Exporter{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", exporter)
	}
	name, protocol := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if protocol == "" {
		name, protocol = "OTEL_EXPORTER_OTLP_PROTOCOL", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch protocol {
	case "", "http/protobuf":
		return Exporter{Protocol: "http/protobuf"}, nil
	case "grpc":
		return Exporter{Protocol: "grpc"}, nil
	default:
		return Exporter{}, fmt.Errorf("%s=%q: only http/protobuf and grpc are supported", name, protocol)
	}
}

// On reports whether e exports spans.
func (e Exporter) On() bool { return e.Protocol != "" }

// NewProvider returns a tracer provider that batches spans to the OTLP
// exporter e names, or nil when e is off. The exporter reads its endpoint,
// headers, TLS and timeout from the process's OTEL_EXPORTER_OTLP_*
// variables, the provider its sampler from OTEL_TRACES_SAMPLER and the
// resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the service
// is "bookstore" unless they say otherwise). Shut it down to flush.
func NewProvider(ctx context.Context, e Exporter, version string) (*sdktrace.TracerProvider, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch e.Protocol {
	case "":
		return nil, nil
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: unknown protocol %q", e.Protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("bookstore"), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // after the defaults, so OTEL_SERVICE_NAME wins
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: the resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
