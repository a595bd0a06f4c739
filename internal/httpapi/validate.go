package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// validator checks every request against the spec before a handler sees it.
// The spec alone decides which operations need a token: its security hook
// only asks whether authenticate found a caller.
type validator struct {
	router  routers.Router
	options *openapi3filter.Options
}

// RegisterFormats teaches kin-openapi the string formats the spec uses that
// it does not check by default. kin-openapi keeps formats in a package-level
// table, so this is called once, before any spec is loaded.
func RegisterFormats() {
	// RFC 9562 accepts every version, UUIDv7 included; the RFC 4122 pattern does not.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
}

func newValidator(spec *openapi3.T) (*validator, error) {
	spec.Servers = nil // match any Host
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("route the spec: %w", err)
	}
	return &validator{
		router: router,
		options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: requireCaller,
		},
	}, nil
}

var errNoCaller = errors.New("no authenticated caller")

// requireCaller is kin-openapi's authentication hook.
func requireCaller(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme != nil && in.SecurityScheme.Type == "http" && in.SecurityScheme.Scheme == "basic" {
		return errNoCaller // Basic is checked by the login handler itself
	}
	if _, ok := principalFrom(ctx); !ok {
		return errNoCaller
	}
	return nil
}

func (v *validator) middleware(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := v.router.FindRoute(r)
		if err != nil {
			if errors.Is(err, routers.ErrMethodNotAllowed) {
				writeProblem(w, r, s.log, newProblem(http.StatusMethodNotAllowed, typeMethodNotAllowed,
					"The method is not allowed.", r.Method+" is not allowed on "+r.URL.Path))
				return
			}
			writeProblem(w, r, s.log, notFound("no such endpoint: "+r.Method+" "+r.URL.Path))
			return
		}
		info := requestInfoFrom(r.Context())
		info.route = route.Path
		info.operationID = route.Operation.OperationID

		if p := checkMediaType(r, route.Operation); p != nil {
			writeProblem(w, r, s.log, p)
			return
		}
		if err := checkBodyEncoding(r); err != nil {
			writeProblem(w, r, s.log, err)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.options}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			writeProblem(w, r, s.log, validationProblem(info, err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkMediaType answers 415 when a body comes in a media type the
// operation does not take.
func checkMediaType(r *http.Request, op *openapi3.Operation) *problem {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	var want []string
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		for mt := range op.RequestBody.Value.Content {
			want = append(want, mt)
		}
	}
	if len(want) == 0 {
		return nil // a body nobody reads; ignored
	}
	sort.Strings(want)
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		for _, mt := range want {
			if strings.EqualFold(got, mt) {
				return nil
			}
		}
	}
	return unsupportedMediaType(strings.Join(want, " or "))
}

// checkBodyEncoding reads the body (already capped by limitBody) and
// refuses invalid UTF-8, which Go's JSON decoder would silently turn into
// U+FFFD. The body is put back for the validator and the handler.
func checkBodyEncoding(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return payloadTooLarge()
		}
		return malformed("the request body could not be read")
	}
	if !utf8.Valid(body) {
		return malformed("the body is not valid UTF-8")
	}
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Body, _ = r.GetBody()
	return nil
}

// validationProblem turns kin-openapi's errors into one problem. A missing
// or refused token wins over everything else; then a body that was too
// large or not JSON; then every bad field, named.
func validationProblem(info *requestInfo, err error) *problem {
	var errs []error
	var me openapi3.MultiError
	if errors.As(err, &me) {
		errs = me
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var se *openapi3filter.SecurityRequirementsError
		if errors.As(e, &se) {
			switch {
			case info.authErr != nil:
				return problemFor(info.authErr)
			case info.tokenSent:
				return bearerChallenge(true, "the token is invalid or expired")
			default:
				return bearerChallenge(false, "this operation needs an access token: send Authorization: Bearer <token>")
			}
		}
	}
	var fields []fieldError
	for _, e := range errs {
		var maxBytes *http.MaxBytesError
		if errors.As(e, &maxBytes) {
			return payloadTooLarge()
		}
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) {
			return internalError(e)
		}
		if re.RequestBody != nil && re.Reason == "failed to decode request body" {
			return malformed("the body is not valid JSON")
		}
		fields = append(fields, requestFieldErrors(re)...)
	}
	if len(fields) == 0 {
		return badRequest("the request is not valid")
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return badRequest(strings.Join(msgs, "; "), fields...)
}

var (
	unsupportedProperty = regexp.MustCompile(`^property "(.*)" is unsupported$`)
	missingProperty     = regexp.MustCompile(`^property "(.*)" is missing$`)
)

// requestFieldErrors names the fields one RequestError is about: body
// fields by their JSON path, parameters as "query.limit", "path.id" or
// "header.If-Match".
func requestFieldErrors(re *openapi3filter.RequestError) []fieldError {
	if re.Parameter != nil {
		field := re.Parameter.In + "." + re.Parameter.Name
		msg := re.Reason
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			msg = se.Reason
		} else if re.Err != nil {
			msg = re.Err.Error()
		}
		if msg == "" {
			msg = "is not valid"
		}
		return []fieldError{{field, msg}}
	}
	var schemaErrs []*openapi3.SchemaError
	var me openapi3.MultiError
	if errors.As(re.Err, &me) {
		for _, e := range me {
			var se *openapi3.SchemaError
			if errors.As(e, &se) {
				schemaErrs = append(schemaErrs, se)
			}
		}
	} else {
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			schemaErrs = append(schemaErrs, se)
		}
	}
	if len(schemaErrs) == 0 {
		msg := re.Reason
		if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
			msg = "a request body is required"
		} else if msg == "" && re.Err != nil {
			msg = re.Err.Error()
		}
		return []fieldError{{"body", msg}}
	}
	fields := make([]fieldError, 0, len(schemaErrs))
	for _, se := range schemaErrs {
		path := se.JSONPointer()
		withName := func(name string) []string {
			if len(path) > 0 && path[len(path)-1] == name {
				return path
			}
			return append(path, name)
		}
		if m := unsupportedProperty.FindStringSubmatch(se.Reason); m != nil {
			path = withName(m[1])
			fields = append(fields, fieldError{strings.Join(path, "."), "is not a field of this request (unknown or server-owned)"})
			continue
		}
		if m := missingProperty.FindStringSubmatch(se.Reason); m != nil {
			path = withName(m[1])
			fields = append(fields, fieldError{strings.Join(path, "."), "is required"})
			continue
		}
		field := strings.Join(path, ".")
		if field == "" {
			field = "body"
		}
		fields = append(fields, fieldError{field, se.Reason})
	}
	return fields
}
