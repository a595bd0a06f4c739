package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookstore/bookstore/gen/oapi"
)

// Metrics are the API's Prometheus metrics. Requests are labelled by the
// spec's operationId (or "unmatched" when no operation matched), never by
// the raw path, so every label set is bounded. A nil *Metrics records
// nothing, and NewHandler then serves no /metrics.
type Metrics struct {
	gatherer prometheus.Gatherer
	handler  http.Handler

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	throttled *prometheus.CounterVec
	logins    *prometheus.CounterVec
	reuse     prometheus.Counter
	revoked   *prometheus.CounterVec
}

// Reasons a session ends early, the label of bookstore_session_revocations_total.
const (
	revokedLogout       = "logout"           // POST /auth/logout
	revokedByUser       = "revoked_by_user"  // DELETE /users/me/sessions/{id}
	revokedByAdmin      = "revoked_by_admin" // every session of a user, by an admin
	revokedPassword     = "password_changed" // the user's other sessions
	revokedRefreshReuse = "refresh_reuse"    // a spent refresh token came back
	revokedSessionCap   = "session_cap"      // the oldest, when a login passes the per-user cap
)

// NewMetrics registers the API's metrics with reg and serves reg's metrics
// (with whatever else is registered there: the Go runtime, the database
// pools) at GET /metrics.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	m := &Metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookstore_http_requests_total",
			Help: "HTTP requests answered, by the spec's operationId (\"unmatched\" when none matched) and status code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bookstore_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by the spec's operationId.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookstore_http_requests_in_flight",
			Help: "API requests being answered now.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookstore_throttled_requests_total",
			Help: "Requests refused with 429 by the throttle (failed logins, refresh tokens, passwords, registrations), by operationId.",
		}, []string{"operation"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookstore_logins_total",
			Help: "Login attempts that reached the password check, by result (succeeded or failed).",
		}, []string{"result"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookstore_refresh_token_reuse_total",
			Help: "Spent refresh tokens presented again; each revoked its session.",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookstore_session_revocations_total",
			Help: "Revocations of sessions before they expired, by reason; revoking every session of a user counts once.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.throttled, m.logins, m.reuse, m.revoked} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every series a dashboard divides by exists from the start, at zero.
	for _, r := range []string{"succeeded", "failed"} {
		m.logins.WithLabelValues(r)
	}
	for _, r := range []string{revokedLogout, revokedByUser, revokedByAdmin, revokedPassword, revokedRefreshReuse, revokedSessionCap} {
		m.revoked.WithLabelValues(r)
	}
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return m, nil
}

// initOperations creates the latency series of every operation of spec.
func (m *Metrics) initOperations(spec *openapi3.T) {
	if m == nil {
		return
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			m.duration.WithLabelValues(op.OperationID)
		}
	}
}

// instrument counts and times API requests. It runs inside observe, so the
// request info exists; the validator, further in, fills in the operation,
// which is read once the request is answered.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		rec := &statusRecorder{ResponseWriter: w}
		returned := false
		// No recover here: observe recovers panics and logs their stack.
		defer func() {
			m.inFlight.Dec()
			status := rec.status
			switch {
			case status == 0 && !returned:
				status = http.StatusInternalServerError // observe answers a panic with 500
			case status == 0:
				status = http.StatusOK
			}
			op, problemType := "unmatched", oapi.ProblemType("")
			if info := requestInfoFrom(r.Context()); info != nil {
				if info.operationID != "" {
					op = info.operationID
				}
				problemType = info.problemType
			}
			m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
			if problemType == oapi.ProblemstooManyRequests {
				m.throttled.WithLabelValues(op).Inc()
			}
		}()
		next.ServeHTTP(rec, r)
		returned = true
	})
}

func (m *Metrics) loginSucceeded() {
	if m != nil {
		m.logins.WithLabelValues("succeeded").Inc()
	}
}

func (m *Metrics) loginFailed() {
	if m != nil {
		m.logins.WithLabelValues("failed").Inc()
	}
}

func (m *Metrics) refreshReuse() {
	if m != nil {
		m.reuse.Inc()
		m.revoked.WithLabelValues(revokedRefreshReuse).Inc()
	}
}

func (m *Metrics) sessionRevoked(reason string) { m.sessionsRevoked(reason, 1) }

func (m *Metrics) sessionsRevoked(reason string, n int64) {
	if m != nil {
		m.revoked.WithLabelValues(reason).Add(float64(n))
	}
}
