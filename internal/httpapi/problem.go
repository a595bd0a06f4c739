package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// Problem types: stable URIs, relative to the server, listed in the spec's
// Problem schema. This is the only place errors become HTTP.
const (
	typeValidation           = "/problems/validation"
	typeMalformedRequest     = "/problems/malformed-request"
	typeUnauthorized         = "/problems/unauthorized"
	typeInvalidToken         = "/problems/invalid-token"
	typeInvalidCredentials   = "/problems/invalid-credentials"
	typeForbidden            = "/problems/forbidden"
	typeWrongPassword        = "/problems/wrong-password"
	typePasswordChange       = "/problems/password-change-required"
	typeNotFound             = "/problems/not-found"
	typeConflict             = "/problems/conflict"
	typeUsernameTaken        = "/problems/username-taken"
	typePreconditionFailed   = "/problems/precondition-failed"
	typePayloadTooLarge      = "/problems/payload-too-large"
	typeUnsupportedMediaType = "/problems/unsupported-media-type"
	typeTooManyRequests      = "/problems/too-many-requests"
	typeRefreshTokenReused   = "/problems/refresh-token-reused"
	typeInternal             = "/problems/internal"
	typeUnavailable          = "/problems/unavailable"
	typeOverloaded           = "/problems/overloaded"
	typeMethodNotAllowed     = "/problems/method-not-allowed"
	typeLastAdmin            = "/problems/last-admin"
	typeStepUpRequired       = "/problems/insufficient-user-authentication"
)

// realm is the protection space named in WWW-Authenticate challenges.
const realm = `realm="bookstore"`

// problem is an RFC 9457 problem document plus the headers it needs. Handlers
// return one as an error when the HTTP answer is specific (wrong password,
// invalid credentials); every other error is mapped by problemFor.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance,omitempty"`
	Errors   []fieldError `json:"errors,omitempty"`

	header http.Header
	cause  error // logged, never sent
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *problem) Error() string { return p.Type + ": " + p.Detail }
func (p *problem) Unwrap() error { return p.cause }

func newProblem(status int, typ, title, detail string) *problem {
	return &problem{Type: typ, Title: title, Status: status, Detail: detail}
}

func (p *problem) withHeader(name, value string) *problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(name, value)
	return p
}

func badRequest(detail string, fields ...fieldError) *problem {
	p := newProblem(http.StatusBadRequest, typeValidation, "Your request is not valid.", detail)
	p.Errors = fields
	return p
}

func malformed(detail string) *problem {
	return newProblem(http.StatusBadRequest, typeMalformedRequest, "Your request could not be read.", detail)
}

// bearerChallenge is the 401 for a missing (invalid=false) or rejected token.
func bearerChallenge(invalid bool, detail string) *problem {
	if !invalid {
		return newProblem(http.StatusUnauthorized, typeUnauthorized, "Authentication is required.", detail).
			withHeader("WWW-Authenticate", "Bearer "+realm)
	}
	return newProblem(http.StatusUnauthorized, typeInvalidToken, "The token is not valid.", detail).
		withHeader("WWW-Authenticate", "Bearer "+realm+`, error="invalid_token", error_description="`+detail+`"`)
}

// stepUpRequired is RFC 9470's challenge: the token is valid, but its
// password login is older than maxAge.
func stepUpRequired(maxAge time.Duration) *problem {
	detail := "this needs a password login within the last " + maxAge.String() + "; log in again and retry with the new access token"
	return newProblem(http.StatusUnauthorized, typeStepUpRequired, "A more recent login is required.", detail).
		withHeader("WWW-Authenticate", "Bearer "+realm+`, error="insufficient_user_authentication", error_description="`+detail+
			`", max_age=`+strconv.Itoa(int(maxAge/time.Second)))
}

func invalidCredentials() *problem {
	return newProblem(http.StatusUnauthorized, typeInvalidCredentials, "The username or password is wrong.",
		"the username or password is wrong").withHeader("WWW-Authenticate", `Basic `+realm+`, charset="UTF-8"`)
}

func forbidden(detail string) *problem {
	return newProblem(http.StatusForbidden, typeForbidden, "You may not do this.", detail)
}

func notFound(detail string) *problem {
	return newProblem(http.StatusNotFound, typeNotFound, "There is no such resource.", detail)
}

// payloadTooLarge names the operation's limit (bodyLimitsOf).
func payloadTooLarge(limit int64) *problem {
	return newProblem(http.StatusRequestEntityTooLarge, typePayloadTooLarge, "The request body is too large.",
		"the request body must be at most "+strconv.FormatInt(limit, 10)+" bytes for this operation")
}

func unsupportedMediaType(want string) *problem {
	return newProblem(http.StatusUnsupportedMediaType, typeUnsupportedMediaType, "The media type is not supported.",
		"send the body as "+want)
}

func internalError(cause error) *problem {
	p := newProblem(http.StatusInternalServerError, typeInternal, "Something went wrong on our side.",
		"the request could not be completed")
	p.cause = cause
	return p
}

func unavailable(cause error) *problem {
	p := newProblem(http.StatusServiceUnavailable, typeUnavailable, "The service is unavailable.",
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
		return newProblem(http.StatusTooManyRequests, typeTooManyRequests, "Too many requests.", throttled.Error()).
			withHeader("Retry-After", strconv.Itoa(throttled.Seconds()))
	}
	var overloaded *auth.OverloadedError
	if errors.As(err, &overloaded) {
		return newProblem(http.StatusServiceUnavailable, typeOverloaded, "The server is busy.", overloaded.Error()).
			withHeader("Retry-After", strconv.Itoa(overloaded.Seconds()))
	}
	detail := ""
	var fields []fieldError
	var de *bookstore.Error
	if errors.As(err, &de) {
		detail = de.Message
		for _, f := range de.Fields {
			fields = append(fields, fieldError(f))
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
		return newProblem(http.StatusUnauthorized, typeRefreshTokenReused, "The refresh token was already used.",
			"this refresh token was already used, so its session has been revoked; log in again").
			withHeader("WWW-Authenticate", "Bearer "+realm+`, error="invalid_token"`)
	case errors.Is(err, bookstore.ErrUnauthorized):
		return bearerChallenge(true, or("the token is invalid or expired"))
	case errors.Is(err, bookstore.ErrForbidden):
		return forbidden(or("you may not do this"))
	case errors.Is(err, bookstore.ErrNotFound):
		return notFound(or("not found"))
	case errors.Is(err, bookstore.ErrLastAdmin):
		return newProblem(http.StatusConflict, typeLastAdmin, "The last admin must stay.", detail)
	case errors.Is(err, bookstore.ErrConflict):
		return newProblem(http.StatusConflict, typeConflict, "The request conflicts with the current state.",
			or("the request conflicts with what is stored"))
	case errors.Is(err, bookstore.ErrPreconditionFailed):
		return newProblem(http.StatusPreconditionFailed, typePreconditionFailed, "The resource has changed.",
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
	info := requestInfoFrom(r.Context())
	if info != nil {
		p.Instance = info.id
		info.problemType = p.Type
	}
	switch {
	case p.Type == typeOverloaded:
		// Load shed on purpose, maybe thousands a second in a flood: the
		// 503s are counted in the metrics, not logged one by one.
		log.DebugContext(r.Context(), "password check refused: hashing queue full", "request_id", p.Instance)
	case p.Status >= 500:
		log.ErrorContext(r.Context(), "request failed", "request_id", p.Instance, "status", p.Status, "error", err)
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
	_ = json.NewEncoder(w).Encode(p)
}
