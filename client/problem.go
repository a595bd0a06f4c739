package client

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
)

// ProblemType is a problem document's type: a stable URI, relative to the
// server, naming the kind of problem.
type ProblemType = oapi.ProblemType

// The problem types the API sends (api/openapi.yaml, ProblemType). A
// response that is not a problem document gets TypeBlank.
const (
	TypeConflict             ProblemType = oapi.Problemsconflict
	TypeForbidden            ProblemType = oapi.Problemsforbidden
	TypeInternal             ProblemType = oapi.Problemsinternal
	TypeInsufficientAuth     ProblemType = oapi.ProblemsinsufficientUserAuthentication
	TypeInvalidCredentials   ProblemType = oapi.ProblemsinvalidCredentials
	TypeInvalidToken         ProblemType = oapi.ProblemsinvalidToken
	TypeLastAdmin            ProblemType = oapi.ProblemslastAdmin
	TypeMalformedRequest     ProblemType = oapi.ProblemsmalformedRequest
	TypeMethodNotAllowed     ProblemType = oapi.ProblemsmethodNotAllowed
	TypeNotFound             ProblemType = oapi.ProblemsnotFound
	TypeOverloaded           ProblemType = oapi.Problemsoverloaded
	TypePasswordChange       ProblemType = oapi.ProblemspasswordChangeRequired
	TypePayloadTooLarge      ProblemType = oapi.ProblemspayloadTooLarge
	TypePreconditionFailed   ProblemType = oapi.ProblemspreconditionFailed
	TypeRefreshTokenReused   ProblemType = oapi.ProblemsrefreshTokenReused
	TypeTooManyRequests      ProblemType = oapi.ProblemstooManyRequests
	TypeUnauthorized         ProblemType = oapi.Problemsunauthorized
	TypeUnavailable          ProblemType = oapi.Problemsunavailable
	TypeUnsupportedMediaType ProblemType = oapi.ProblemsunsupportedMediaType
	TypeUsernameTaken        ProblemType = oapi.ProblemsusernameTaken
	TypeValidation           ProblemType = oapi.Problemsvalidation
	TypeWrongPassword        ProblemType = oapi.ProblemswrongPassword

	// TypeBlank is RFC 9457's type for a problem that is only its status:
	// here, an error answer that was not a problem document (say, from a
	// proxy in front of the server).
	TypeBlank ProblemType = "about:blank"
)

// FieldError names one bad field of a request, e.g. price_cents or
// query.limit, and what is wrong with it.
type FieldError = oapi.FieldError

// Problem is an error answer of the API: an RFC 9457 problem document.
// Every method of Client returns one (wrapped or not) for an answer that
// is not a success; find it with errors.As:
//
//	var p *client.Problem
//	if errors.As(err, &p) && p.Type == client.TypeNotFound { ... }
type Problem struct {
	Type     ProblemType
	Title    string // a short summary of the type
	Status   int    // the HTTP status
	Detail   string // what went wrong with this request
	Instance string // the request id, as in the server's log
	// Errors lists each bad field of the request (validation problems).
	Errors []FieldError
	// RetryAfter is how long the server asked to wait before trying
	// again (429 and 503 answers); zero when it did not say.
	RetryAfter time.Duration
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bookstore: %d %s", p.Status, p.Type)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for i, fe := range p.Errors {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(fe.Field + ": " + fe.Message)
		if i == len(p.Errors)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// maxProblemBytes bounds how much of an error answer is read.
const maxProblemBytes = 64 << 10

// problemFrom reads an error answer into a Problem. It closes nothing.
func problemFrom(res *http.Response) *Problem {
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxProblemBytes))
	p := &Problem{Status: res.StatusCode}
	if secs, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		p.RetryAfter = time.Duration(secs) * time.Second
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	var doc oapi.Problem
	if mt == "application/problem+json" && json.Unmarshal(body, &doc) == nil && doc.Type != "" {
		p.Type, p.Title, p.Detail = doc.Type, doc.Title, doc.Detail
		if doc.Status != 0 {
			p.Status = doc.Status
		}
		if doc.Instance != nil {
			p.Instance = *doc.Instance
		}
		if doc.Errors != nil {
			p.Errors = *doc.Errors
		}
		return p
	}
	p.Type, p.Title = TypeBlank, http.StatusText(res.StatusCode)
	p.Detail = strings.TrimSpace(strings.ToValidUTF8(string(body[:min(len(body), 200)]), ""))
	return p
}
