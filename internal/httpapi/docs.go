package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/bookstore/bookstore/gen/oapi"
)

// docsPath is where Swagger UI is served. Its assets are embedded in the
// binary (swgui's v5emb), so the page works offline and loads nothing from
// a CDN.
const docsPath = "/docs/"

// docsFiles are the page itself, its start-up script (Swagger UI's
// settings and the login panel) and its styles: files, not inline, so the
// CSP allows scripts from this server only.
//
//go:embed docs
var docsFiles embed.FS

// docsCSP lets the page run scripts from this server only and talk to this
// server only. Styles may be inline: Swagger UI's React components set
// style attributes.
const docsCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// newDocsHandler serves Swagger UI over GET /openapi.yaml, with a login
// panel: log in once, and every request from the page carries the access
// token, refreshed before it expires (docs/bookstore.js). The Authorize
// button still takes a pasted token.
func newDocsHandler() http.Handler {
	assets := v5emb.NewHandlerWithConfig(swgui.Config{Title: "Bookstore API", SwaggerJSON: "/openapi.yaml", BasePath: docsPath})
	page, err := fs.Sub(docsFiles, "docs")
	if err != nil {
		panic(err) // the embedded directory is there at build time
	}
	own := http.StripPrefix(docsPath, http.FileServerFS(page))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Frame-Options", "DENY")
		switch r.URL.Path {
		case docsPath, docsPath + "bookstore.js", docsPath + "bookstore.css": // index.html and its own files
			h.Set("Cache-Control", "no-cache")
			own.ServeHTTP(w, r)
			return
		}
		// Swagger UI's assets change only with the binary.
		h.Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
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
			writeProblem(w, r, s.log, newProblem(http.StatusMethodNotAllowed, oapi.ProblemsmethodNotAllowed,
				"The method is not allowed.", r.Method+" is not allowed on "+path))
			return
		}
		h.ServeHTTP(w, r)
	})
}
