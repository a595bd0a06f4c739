package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// apiCSP is the Content-Security-Policy of every API and problem response.
const apiCSP = "default-src 'none'; frame-ancestors 'none'"

// requestInfo travels in the context of every request. Outer middleware
// creates it; inner layers fill in what they learn (the route, the caller),
// so the log line written at the end can say it.
type requestInfo struct {
	id          string
	traceID     string // set when tracing: in every log line of the request
	route       string // the spec's path template, never the raw path
	operationID string
	problemType oapi.ProblemType

	principal *bookstore.Principal
	authErr   error // why a presented token was refused
	tokenSent bool

	clientIP  string
	userAgent string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// principalFrom returns the authenticated caller. Operations the spec
// secures only run when there is one.
func principalFrom(ctx context.Context) (bookstore.Principal, bool) {
	info := requestInfoFrom(ctx)
	if info == nil || info.principal == nil {
		return bookstore.Principal{}, false
	}
	return *info.principal, true
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// validRequestID accepts a client's X-Request-ID only when it is short and
// plain, so it is safe in logs and headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe is the outermost middleware: request id, security headers, panic
// recovery and the one log line per request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{
			id:        r.Header.Get("X-Request-ID"),
			clientIP:  s.clientIP(r),
			userAgent: truncateRunes(r.UserAgent(), 200),
		}
		if !validRequestID(info.id) {
			info.id = newRequestID()
		}
		h := w.Header()
		h.Set("X-Request-ID", info.id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// API answers are data, never a page: nothing in one may load or
		// run, nor be framed. The docs page sets its own policy.
		h.Set("Content-Security-Policy", apiCSP)
		// Responses carry tokens or user data; handlers that serve public,
		// cacheable documents override this.
		h.Set("Cache-Control", "no-store")
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", info.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, s.log, internalError(errors.New("panic")))
				}
			}
			route := info.route
			if route == "" {
				route = "unmatched"
			}
			attrs := []slog.Attr{
				slog.String("request_id", info.id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", rec.status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}
			if info.operationID != "" {
				attrs = append(attrs, slog.String("operation", info.operationID))
			}
			if info.principal != nil {
				attrs = append(attrs, slog.String("user_id", info.principal.UserID.String()))
			}
			if info.problemType != "" {
				attrs = append(attrs, slog.String("problem", string(info.problemType)))
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// authenticate reads the access token (Authorization: Bearer, or the
// seed's x-access-tokens header), verifies it and the session, and puts the
// caller in the request context. The validator calls it only for the
// operations whose security takes a token: a public operation never looks
// at one, so a token sent to /healthz costs nothing and cannot fail it. It
// does not refuse a missing or rejected token by itself (logout takes either
// a token or a refresh token): the validator's security check does, from the
// spec. The exceptions are a contradictory pair of headers (400), an empty
// bearer token (401) and a database that cannot answer (503). It reports
// whether the request goes on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, info *requestInfo) bool {
	token, err := accessTokenFrom(r.Header)
	if err != nil {
		writeProblem(w, r, s.log, err)
		return false
	}
	if token == "" {
		return true
	}
	info.tokenSent = true
	p, err := s.verifyAccessToken(r.Context(), token)
	switch {
	case errors.Is(err, bookstore.ErrUnavailable):
		writeProblem(w, r, s.log, err)
		return false
	case err != nil:
		info.authErr = err
		s.log.DebugContext(r.Context(), "access token refused", "request_id", info.id, "reason", err)
	default:
		info.principal = &p
	}
	return true
}

// basicCredentials are a request's HTTP Basic credentials. Login is the one
// operation that takes them (the spec's basicAuth scheme, beside a JSON
// body), and its typed request object has no place for credentials that
// come as a security scheme: they reach it as this one context value, set
// by withBasicCredentials and read by basicCredentialsFrom, nowhere else.
type basicCredentials struct{ username, password string }

type basicCredentialsKey struct{}

// withBasicCredentials puts the request's HTTP Basic credentials, if it
// has any, in its context for Login.
func withBasicCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if username, password, ok := r.BasicAuth(); ok {
			r = r.WithContext(context.WithValue(r.Context(), basicCredentialsKey{}, basicCredentials{username, password}))
		}
		next.ServeHTTP(w, r)
	})
}

// basicCredentialsFrom returns the credentials withBasicCredentials found.
func basicCredentialsFrom(ctx context.Context) (basicCredentials, bool) {
	c, ok := ctx.Value(basicCredentialsKey{}).(basicCredentials)
	return c, ok
}

func (s *Server) verifyAccessToken(ctx context.Context, token string) (bookstore.Principal, error) {
	claims, err := s.tokens.Verify(token)
	if errors.Is(err, auth.ErrUnknownKey) && s.keys != nil {
		// Perhaps a key another replica has just made: look once.
		if rerr := s.keys.ReloadForUnknownKey(ctx, s.now()); rerr != nil {
			return bookstore.Principal{}, rerr
		}
		claims, err = s.tokens.Verify(token)
	}
	if err != nil {
		return bookstore.Principal{}, err
	}
	p, err := s.store.AuthenticateSession(ctx, claims.SessionID, claims.UserID, s.now())
	p.AuthTime = claims.AuthTime
	return p, err
}

// accessTokenFrom returns the access token of the request, if any.
func accessTokenFrom(h http.Header) (string, error) {
	var bearer string
	if authz := h.Get("Authorization"); authz != "" {
		scheme, value, _ := strings.Cut(authz, " ")
		if strings.EqualFold(scheme, "Bearer") {
			bearer = strings.TrimSpace(value)
			if bearer == "" {
				return "", bearerChallenge(true, "the bearer token is empty")
			}
		}
	}
	seed := strings.TrimSpace(h.Get("X-Access-Tokens"))
	if bearer != "" && seed != "" && bearer != seed {
		return "", badRequest("the Authorization and x-access-tokens headers carry different tokens; send one",
			oapi.FieldError{Field: "header.x-access-tokens", Message: "differs from the bearer token in Authorization"})
	}
	if bearer != "" {
		return bearer, nil
	}
	return seed, nil
}

// truncateRunes cuts s to at most n code points of valid UTF-8.
func truncateRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
