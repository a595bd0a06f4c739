package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// realm is the protection space named in WWW-Authenticate challenges.
const realm = `realm="bookstore"`

// problem is an RFC 9457 problem document, the spec's Problem, plus the
// headers it needs. Handlers return one as an error when the HTTP answer is
// specific (wrong password, invalid credentials); every other error is
// mapped by problemFor. The types are the spec's (oapi.ProblemType), and
// the document is encoded as the spec's schema: this is the only place
// errors become HTTP.
type problem struct {
	oapi.Problem

	header http.Header
	cause  error // logged, never sent
}

func (p *problem) Error() string { return string(p.Type) + ": " + p.Detail }
func (p *problem) Unwrap() error { return p.cause }

func newProblem(status int, typ oapi.ProblemType, title, detail string) *problem {
	return &problem{Problem: oapi.Problem{Type: typ, Title: title, Status: status, Detail: detail}}
}

func (p *problem) withHeader(name, value string) *problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(name, value)
	return p
}

func badRequest(detail string, fields ...oapi.FieldError) *problem {
	p := newProblem(http.StatusBadRequest, oapi.Problemsvalidation, "Your request is not valid.", detail)
	if len(fields) > 0 {
		p.Errors = &fields
	}
	return p
}

func malformed(detail string) *problem {
	return newProblem(http.StatusBadRequest, oapi.ProblemsmalformedRequest, "Your request could not be read.", detail)
}

// bearerChallenge is the 401 for a missing (invalid=false) or rejected token.
func bearerChallenge(invalid bool, detail string) *problem {
	if !invalid {
		return newProblem(http.StatusUnauthorized, oapi.Problemsunauthorized, "Authentication is required.", detail).
			withHeader("WWW-Authenticate", "Bearer "+realm)
	}
	return newProblem(http.StatusUnauthorized, oapi.ProblemsinvalidToken, "The token is not valid.", detail).
		withHeader("WWW-Authenticate", "Bearer "+realm+`, error="invalid_token", error_description="`+detail+`"`)
}

// stepUpRequired is RFC 9470's challenge: the token is valid, but its
// password login is older than maxAge.
func stepUpRequired(maxAge time.Duration) *problem {
	detail := "this needs a password login within the last " + maxAge.String() + "; log in again and retry with the new access token"
	return newProblem(http.StatusUnauthorized, oapi.ProblemsinsufficientUserAuthentication, "A more recent login is required.", detail).
		withHeader("WWW-Authenticate", "Bearer "+realm+`, error="insufficient_user_authentication", error_description="`+detail+
			`", max_age=`+strconv.Itoa(int(maxAge/time.Second)))
}

func invalidCredentials() *problem {
	return newProblem(http.StatusUnauthorized, oapi.ProblemsinvalidCredentials, "The username or password is wrong.",
		"the username or password is wrong").withHeader("WWW-Authenticate", `Basic `+realm+`, charset="UTF-8"`)
}

func forbidden(detail string) *problem {
	return newProblem(http.StatusForbidden, oapi.Problemsforbidden, "You may not do this.", detail)
}

func notFound(detail string) *problem {
	return newProblem(http.StatusNotFound, oapi.ProblemsnotFound, "There is no such resource.", detail)
}

// payloadTooLarge names the operation's limit (bodyLimitsOf).
func payloadTooLarge(limit int64) *problem {
	return newProblem(http.StatusRequestEntityTooLarge, oapi.ProblemspayloadTooLarge, "The request body is too large.",
		"the request body must be at most "+strconv.FormatInt(limit, 10)+" bytes for this operation")
}

func unsupportedMediaType(want string) *problem {
	return newProblem(http.StatusUnsupportedMediaType, oapi.ProblemsunsupportedMediaType, "The media type is not supported.",
		"send the body as "+want)
}

func internalError(cause error) *problem {
	p := newProblem(http.StatusInternalServerError, oapi.Problemsinternal, "Something went wrong on our side.",
		"the request could not be completed")
	p.cause = cause
	return p
}

func unavailable(cause error) *problem {
	p := newProblem(http.StatusServiceUnavailable, oapi.Problemsunavailable, "The service is unavailable.",
		"the database is not available; try again shortly").withHeader("Retry-After", "1")
	p.cause = cause
	return p
}

// problemFor maps any error to its problem. Domain errors carry a message
// safe for clients; anything else is a 500 whose cause is only logged.
func problemFor(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	var throttled *auth.ThrottledError
	if errors.As(err, &throttled) {
		return newProblem(http.StatusTooManyRequests, oapi.ProblemstooManyRequests, "Too many requests.", throttled.Error()).
			withHeader("Retry-After", strconv.Itoa(throttled.Seconds()))
	}
	var overloaded *auth.OverloadedError
	if errors.As(err, &overloaded) {
		return newProblem(http.StatusServiceUnavailable, oapi.Problemsoverloaded, "The server is busy.", overloaded.Error()).
			withHeader("Retry-After", strconv.Itoa(overloaded.Seconds()))
	}
	detail := ""
	var fields []oapi.FieldError
	var de *bookstore.Error
	if errors.As(err, &de) {
		detail = de.Message
		for _, f := range de.Fields {
			fields = append(fields, oapi.FieldError(f))
		}
	}
	or := func(fallback string) string {
		if detail == "" {
			return fallback
		}
		return detail
	}
	switch {
	case errors.Is(err, bookstore.ErrInvalid):
		return badRequest(or("the request is not valid"), fields...)
	case errors.Is(err, bookstore.ErrRefreshReused):
		return newProblem(http.StatusUnauthorized, oapi.ProblemsrefreshTokenReused, "The refresh token was already used.",
			"this refresh token was already used, so its session has been revoked; log in again").
			withHeader("WWW-Authenticate", "Bearer "+realm+`, error="invalid_token"`)
	case errors.Is(err, bookstore.ErrUnauthorized):
		return bearerChallenge(true, or("the token is invalid or expired"))
	case errors.Is(err, bookstore.ErrForbidden):
		return forbidden(or("you may not do this"))
	case errors.Is(err, bookstore.ErrNotFound):
		return notFound(or("not found"))
	case errors.Is(err, bookstore.ErrLastAdmin):
		return newProblem(http.StatusConflict, oapi.ProblemslastAdmin, "The last admin must stay.", detail)
	case errors.Is(err, bookstore.ErrConflict):
		return newProblem(http.StatusConflict, oapi.Problemsconflict, "The request conflicts with the current state.",
			or("the request conflicts with what is stored"))
	case errors.Is(err, bookstore.ErrPreconditionFailed):
		return newProblem(http.StatusPreconditionFailed, oapi.ProblemspreconditionFailed, "The resource has changed.",
			or("the resource has changed since the ETag in If-Match; read it again"))
	case errors.Is(err, bookstore.ErrUnavailable):
		return unavailable(err)
	default:
		return internalError(err)
	}
}

// writeProblem writes err as application/problem+json. 5xx causes are
// logged here, once; their text never reaches the client.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := problemFor(err)
	var id string
	if info := requestInfoFrom(r.Context()); info != nil {
		id = info.id
		p.Instance = &id
		info.problemType = p.Type
	}
	switch {
	case p.Type == oapi.Problemsoverloaded:
		// Load shed on purpose, maybe thousands a second in a flood: the
		// 503s are counted in the metrics, not logged one by one.
		log.DebugContext(r.Context(), "password check refused: hashing queue full", "request_id", id)
	case p.Status >= 500:
		log.ErrorContext(r.Context(), "request failed", "request_id", id, "status", p.Status, "error", err)
	}
	p.write(w)
}

// write sends p with its headers.
func (p *problem) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range p.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p.Problem)
}
