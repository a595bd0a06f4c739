// Package httpapi serves the spec's operations over HTTP: it implements the
// generated strict server interface over a bookstore.Store and the auth
// package, and owns everything HTTP — statuses, headers, problem documents.
//
// The files fall in three groups. The operations, one file per resource:
// auth.go, books.go, users.go, operations.go (health, readiness, the spec).
// The middleware every request passes before an operation runs, in the
// order NewHandler stacks it: middleware.go (the per-request record,
// observation, authentication) and middleware_*.go (tracing, metrics, CORS,
// validation against the spec, body limits, the password-change gate, the
// client address, the log). What both use: server.go (the assembly of the
// handler), problem.go (the one place errors become HTTP), convert.go,
// cursor.go, bookjson.go; beside the API, docs.go and starting.go.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/api"
	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// Config is what the API needs; cmd/bookstore builds it from flags.
type Config struct {
	Store  bookstore.Store
	Tokens *auth.AccessTokens
	// Keys, when set, reloads the signing keys when a token names one this
	// process does not hold yet (another replica rotated).
	Keys       *auth.KeyReloader
	Hasher     *auth.Hasher
	Policy     auth.PasswordPolicy
	RefreshTTL time.Duration
	// MaxSessionsPerUser caps a user's live sessions: a login beyond it
	// ends the oldest. Zero: no cap.
	MaxSessionsPerUser int
	// StepUpMaxAge is how recent a password login must be to delete one's
	// own account (RFC 9470 max_age); zero means DefaultStepUpMaxAge.
	StepUpMaxAge time.Duration
	// Throttle limits failed attempts; nil turns throttling off.
	Throttle *auth.Throttle
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins may call the API from a browser; none by default.
	CORSOrigins []string
	// CursorKey signs page cursors so clients cannot forge them.
	CursorKey []byte
	Logger    *slog.Logger
	// Metrics, when set, records request and security metrics and serves
	// them at GET /metrics; nil: neither.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Tracer, when set, makes a span of every request (middleware_tracing.go); nil:
	// no tracing, at no cost.
	Tracer trace.TracerProvider
}

// DefaultStepUpMaxAge is how recent a password login must be, by default,
// for a user to delete their own account.
const DefaultStepUpMaxAge = 5 * time.Minute

// Server implements oapi.StrictServerInterface.
type Server struct {
	store        bookstore.Store
	tokens       *auth.AccessTokens
	keys         *auth.KeyReloader
	hasher       *auth.Hasher
	policy       auth.PasswordPolicy
	refreshTTL   time.Duration
	maxSessions  int
	throttle     *auth.Throttle
	proxies      []netip.Prefix
	corsOrigins  []string
	cursors      cursorCodec
	log          *slog.Logger
	metrics      *Metrics
	now          func() time.Time
	stepUpMaxAge time.Duration
	tracer       trace.Tracer // nil: not tracing
}

var _ oapi.StrictServerInterface = (*Server)(nil)

// NewHandler returns the whole API as one http.Handler: observation,
// authentication, validation against the spec (the caller first, then the
// body within the operation's limits), then the operations; beside them
// Swagger UI at /docs/ and, with Metrics, /metrics.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.Hasher == nil || cfg.Logger == nil {
		return nil, errors.New("httpapi: Store, Tokens, Hasher and Logger are required")
	}
	if len(cfg.CursorKey) < 16 {
		return nil, errors.New("httpapi: CursorKey must be at least 16 bytes")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		store:        cfg.Store,
		tokens:       cfg.Tokens,
		keys:         cfg.Keys,
		hasher:       cfg.Hasher,
		policy:       cfg.Policy,
		refreshTTL:   cfg.RefreshTTL,
		maxSessions:  cfg.MaxSessionsPerUser,
		throttle:     cfg.Throttle,
		proxies:      cfg.TrustedProxies,
		corsOrigins:  cfg.CORSOrigins,
		cursors:      cursorCodec{key: cfg.CursorKey},
		log:          withRequestIDs(cfg.Logger),
		metrics:      cfg.Metrics,
		now:          func() time.Time { return now().UTC() },
		stepUpMaxAge: cmp.Or(cfg.StepUpMaxAge, DefaultStepUpMaxAge),
	}
	if cfg.Tracer != nil {
		s.tracer = cfg.Tracer.Tracer("github.com/bookstore/bookstore")
	}
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	v, err := newValidator(spec)
	if err != nil {
		return nil, err
	}
	onError := func(w http.ResponseWriter, r *http.Request, err error) { writeProblem(w, r, s.log, err) }
	// Validation has already passed, so a decoding error here means a body
	// the spec allowed but Go could not hold (e.g. a number out of range).
	onRequestError := func(w http.ResponseWriter, r *http.Request, err error) {
		writeProblem(w, r, s.log, malformed("the request could not be decoded: "+decodeErrorMessage(err)))
	}
	strict := oapi.NewStrictHandlerWithOptions(s, nil, oapi.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  onRequestError,
		ResponseErrorHandlerFunc: onError,
	})
	routes := oapi.HandlerWithOptions(strict, oapi.StdHTTPServerOptions{
		BaseRouter:       http.NewServeMux(),
		ErrorHandlerFunc: onRequestError,
	})
	s.metrics.initOperations(spec)
	api := s.cors(withBasicCredentials(v.middleware(s, routes)))
	// /docs and /metrics are not API operations: mount routes them around
	// the validator, inside observe (request ids, log lines, recovery).
	return s.observe(s.traced(s.mount(api, s.metrics))), nil
}

// LoadSpec parses api/openapi.yaml as embedded in the binary, exactly as
// it is served at GET /openapi.yaml.
func LoadSpec() (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("httpapi: load the spec: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("httpapi: the spec is not valid: %w", err)
	}
	return spec, nil
}

// decodeErrorMessage keeps Go's decoder messages that are about the input
// and drops the rest.
func decodeErrorMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeErr.Field + " has the wrong type"
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return "the body is not valid JSON"
	}
	return "a parameter or the body is not valid"
}
