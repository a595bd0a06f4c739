package httpapi

import (
	"net/http"
	"strings"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// docsPath is where Swagger UI is served. Its assets are embedded in the
// binary (swgui's v5emb), so the page works offline and loads nothing from
// a CDN.
const docsPath = "/docs/"

// docsCSP lets the page run Swagger UI's own inline start-up script and
// styles, and talk to this server only.
const docsCSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// newDocsHandler serves Swagger UI over GET /openapi.yaml. The Authorize
// button takes an access token for the spec's bearerAuth scheme (or the
// seed's x-access-tokens header).
func newDocsHandler() http.Handler {
	ui := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Bookstore API",
		SwaggerJSON: "/openapi.yaml",
		BasePath:    docsPath,
		SettingsUI: map[string]string{
			"defaultModelsExpandDepth": "0", // the schemas, collapsed
			"displayRequestDuration":   "true",
			"persistAuthorization":     "false",
			// Every operation's id shows in the list.
			"displayOperationId": "true",
		},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Frame-Options", "DENY")
		if r.URL.Path == docsPath {
			h.Set("Cache-Control", "no-cache")
		} else {
			// Assets change only with the binary.
			h.Set("Cache-Control", "public, max-age=86400")
		}
		ui.ServeHTTP(w, r)
	})
}

// mount puts the paths that are not API operations (and so are not in the
// spec and not validated) in front of the API: /docs/ and, with metrics,
// /metrics. Everything else goes to the API.
func (s *Server) mount(api http.Handler, metrics *Metrics) http.Handler {
	docs := newDocsHandler()
	api = metrics.instrument(api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		var h http.Handler
		switch {
		case path == "/metrics" && metrics != nil:
			h = metrics.handler
		case path == "/docs":
			h = http.RedirectHandler(docsPath, http.StatusMovedPermanently)
		case strings.HasPrefix(path, docsPath):
			h = docs
		default:
			api.ServeHTTP(w, r)
			return
		}
		info := requestInfoFrom(r.Context())
		if info != nil {
			info.route = strings.TrimSuffix(path, "/")
			if strings.HasPrefix(path, docsPath) {
				info.route = docsPath + "*"
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, r, s.log, newProblem(http.StatusMethodNotAllowed, typeMethodNotAllowed,
				"The method is not allowed.", r.Method+" is not allowed on "+path))
			return
		}
		h.ServeHTTP(w, r)
	})
}
