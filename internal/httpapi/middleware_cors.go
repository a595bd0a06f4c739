package httpapi

import (
	"net/http"
	"strings"
)

// CORS is off unless origins are configured: browsers then let pages from
// those origins (exactly as written, e.g. "https://app.example.com") call the
// API with a bearer token. Cookies are never used, so credentials mode stays off.
const (
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, Idempotency-Key, X-Access-Tokens, X-Request-ID"
	corsExposeHeaders = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-ID"
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
)

func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.corsOrigins) == 0 {
		return next
	}
	allowed := make(map[string]bool, len(s.corsOrigins))
	for _, o := range s.corsOrigins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" || !allowed[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight: answered here, it is no operation of the spec.
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
