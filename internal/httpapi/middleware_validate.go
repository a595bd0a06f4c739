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
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/bookstore/bookstore/gen/oapi"
)

// validator checks every request against the spec before a handler sees it.
// The spec alone decides which operations need a token: its security hook
// only asks whether authenticate found a caller.
type validator struct {
	router  routers.Router
	options *openapi3filter.Options
	// takesToken holds the operations whose security accepts an access
	// token; authenticate runs for those alone.
	takesToken map[*openapi3.Operation]bool
	// bodyLimits holds the operations that take a body, with their limits.
	bodyLimits map[*openapi3.Operation]bodyLimits
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
	limits := map[*openapi3.Operation]bodyLimits{}
	takesToken := map[*openapi3.Operation]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if lim, ok := bodyLimitsOf(op); ok {
				limits[op] = lim
			}
			takesToken[op] = acceptsAccessToken(spec, op)
		}
	}
	return &validator{
		router:     router,
		bodyLimits: limits,
		takesToken: takesToken,
		options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: requireCaller,
		},
	}, nil
}

// acceptsAccessToken reports whether op's security (or the spec's global
// security) names a scheme that carries an access token: a bearer token or
// the seed's API-key header. HTTP Basic (login) carries none.
func acceptsAccessToken(spec *openapi3.T, op *openapi3.Operation) bool {
	security := spec.Security
	if op.Security != nil {
		security = *op.Security
	}
	for _, req := range security {
		for name := range req {
			scheme := spec.Components.SecuritySchemes[name]
			if scheme == nil || scheme.Value == nil {
				continue
			}
			if scheme.Value.Type == "apiKey" || scheme.Value.Type == "http" && strings.EqualFold(scheme.Value.Scheme, "bearer") {
				return true
			}
		}
	}
	return false
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
		// HEAD is GET without the body (RFC 9110 §9.3.2): it is routed,
		// authenticated and validated as GET, and http.ServeMux's GET
		// patterns serve it; net/http drops what the handler writes.
		lookup := r
		if r.Method == http.MethodHead {
			lookup = withMethod(r, http.MethodGet)
		}
		route, params, err := v.router.FindRoute(lookup)
		if err != nil {
			allow := v.allowedMethods(r)
			switch {
			case len(allow) == 0:
				writeProblem(w, r, s.log, notFound("no such endpoint: "+r.Method+" "+r.URL.Path))
			case r.Method == http.MethodOptions:
				// Outside CORS preflights (answered by cors), OPTIONS
				// says which methods the path has.
				w.Header().Set("Allow", strings.Join(allow, ", "))
				w.WriteHeader(http.StatusNoContent)
			default:
				writeProblem(w, r, s.log, newProblem(http.StatusMethodNotAllowed, oapi.ProblemsmethodNotAllowed,
					"The method is not allowed.", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", ")).
					withHeader("Allow", strings.Join(allow, ", ")))
			}
			return
		}
		info := requestInfoFrom(r.Context())
		info.route = route.Path
		info.operationID = route.Operation.OperationID
		if v.takesToken[route.Operation] && !s.authenticate(w, r, info) {
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.options}

		// A caller the operation does not admit is refused before a byte of
		// the body is read.
		if err := checkSecurity(r.Context(), in); err != nil {
			writeProblem(w, r, s.log, validationProblem(info, err))
			return
		}
		if err := v.readBody(r, route.Operation); err != nil {
			if p := problemFor(err); p.Status == http.StatusRequestEntityTooLarge || p.Status == http.StatusUnsupportedMediaType {
				// The rest of the body stays unread: don't wait for it.
				w.Header().Set("Connection", "close")
			}
			writeProblem(w, r, s.log, err)
			return
		}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			writeProblem(w, r, s.log, validationProblem(info, err))
			return
		}
		if p := passwordChangeRequired(r.Context(), info.operationID); p != nil {
			writeProblem(w, r, s.log, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withMethod is r as if sent with another method, for route lookups only.
func withMethod(r *http.Request, method string) *http.Request {
	c := *r
	c.Method = method
	return &c
}

// methodsInAllowOrder are the methods the spec's operations can use, in the
// order Allow lists them.
var methodsInAllowOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods r's path has in the spec, for Allow:
// HEAD wherever GET is, and OPTIONS on every path; nil when the path is
// not in the spec.
func (v *validator) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range methodsInAllowOrder {
		if _, _, err := v.router.FindRoute(withMethod(r, m)); err == nil {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if allow == nil {
		return nil
	}
	return append(allow, http.MethodOptions)
}

// checkSecurity runs the operation's security requirements (or the spec's
// global ones) alone, as ValidateRequest would, on the request without its
// body: kin-openapi reads the whole body into memory before it asks the
// authentication hook, in case the hook wants it (ours never does).
func checkSecurity(ctx context.Context, in *openapi3filter.RequestValidationInput) error {
	security := in.Route.Operation.Security
	if security == nil {
		security = &in.Route.Spec.Security
	}
	bodiless := *in.Request
	bodiless.Body = http.NoBody
	withoutBody := *in
	withoutBody.Request = &bodiless
	return openapi3filter.ValidateSecurityRequirements(ctx, &withoutBody, *security)
}

// readBody reads the body an operation takes, within the operation's
// limits, and puts it back for the validator and the handler. Operations
// that take no body never read one. A body over the limit is refused
// unread when Content-Length says so, else as soon as reading passes it.
func (v *validator) readBody(r *http.Request, op *openapi3.Operation) error {
	lim, takesBody := v.bodyLimits[op]
	if !takesBody || r.Body == nil || r.Body == http.NoBody {
		r.Body = http.NoBody
		return nil
	}
	if p := checkMediaType(r, lim.mediaTypes); p != nil {
		return p
	}
	if r.ContentLength > lim.bytes {
		return payloadTooLarge(lim.bytes)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, lim.bytes+1))
	r.Body.Close()
	if err != nil {
		return malformed("the request body could not be read")
	}
	if int64(len(body)) > lim.bytes {
		return payloadTooLarge(lim.bytes)
	}
	// Go's JSON decoder would silently turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return malformed("the body is not valid UTF-8")
	}
	if len(body) > 0 {
		if err := scanJSON(body, lim); err != nil {
			return err
		}
	}
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Body, _ = r.GetBody()
	return nil
}

// checkMediaType answers 415 when a body comes in a media type other than
// those the operation takes (want).
func checkMediaType(r *http.Request, want []string) *problem {
	if r.ContentLength == 0 {
		return nil
	}
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
	var fields []oapi.FieldError
	for _, e := range errs {
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
func requestFieldErrors(re *openapi3filter.RequestError) []oapi.FieldError {
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
		return []oapi.FieldError{{Field: field, Message: msg}}
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
		return []oapi.FieldError{{Field: "body", Message: msg}}
	}
	fields := make([]oapi.FieldError, 0, len(schemaErrs))
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
			fields = append(fields, oapi.FieldError{Field: strings.Join(path, "."), Message: "is not a field of this request (unknown or server-owned)"})
			continue
		}
		if m := missingProperty.FindStringSubmatch(se.Reason); m != nil {
			path = withName(m[1])
			fields = append(fields, oapi.FieldError{Field: strings.Join(path, "."), Message: "is required"})
			continue
		}
		field := strings.Join(path, ".")
		if field == "" {
			field = "body"
		}
		fields = append(fields, oapi.FieldError{Field: field, Message: se.Reason})
	}
	return fields
}
