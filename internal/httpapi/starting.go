package httpapi

import (
	"net/http"

	"github.com/bookstore/bookstore/gen/oapi"
)

// NewStartingHandler answers while a server waits for its database at
// start, before NewHandler can run: GET /healthz is 200, since the process
// is alive and needs no restart, and the operations that never need the
// database (this document, GET /) are served as usual, so the spec need not
// declare a 503 for them; everything else, /readyz included, is a 503
// problem with Retry-After, so a load balancer sends no traffic yet and a
// client that got through knows to come back.
func NewStartingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "no-store")
			switch r.URL.Path {
			case "/healthz":
				_ = oapi.GetHealth200JSONResponse{Status: oapi.Ok}.VisitGetHealthResponse(w)
				return
			case "/openapi.yaml":
				_ = specDocument().VisitGetOpenApiSpecResponse(w)
				return
			case "/":
				_ = toDocs.VisitGetRootResponse(w)
				return
			}
		}
		p := unavailable(nil)
		p.Detail = "the server is starting and its database is not ready yet; try again shortly"
		p.write(w)
	})
}
