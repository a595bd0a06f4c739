package app

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/httpapi"
)

// poolStatser is a store that reports its connection pools (both adapters
// do: sqlite's writer and reader, postgres's pool).
type poolStatser interface {
	PoolStats() map[string]sql.DBStats
}

// newMetrics builds the registry GET /metrics serves: the API's own
// metrics, the database pools of db, the password hashes of hasher, the Go
// runtime and the process.
func newMetrics(db any, hasher *auth.Hasher) (*httpapi.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bookstore_password_hashes_total",
			Help: "Password hashes computed (logins, registrations, password changes, the unknown-user dummy): the work throttling and the hashing queue bound.",
		}, func() float64 { return float64(hasher.Computed()) }),
	)
	if p, ok := db.(poolStatser); ok {
		reg.MustRegister(poolCollector{p})
	}
	return httpapi.NewMetrics(reg)
}

// poolCollector exports database/sql pool figures per pool, under the
// names of client_golang's collectors.NewDBStatsCollector (go_sql_*, label
// db_name), which works on one *sql.DB only.
type poolCollector struct{ db poolStatser }

var (
	poolMaxOpen      = prometheus.NewDesc("go_sql_max_open_connections", "Maximum number of open connections to the database.", []string{"db_name"}, nil)
	poolOpen         = prometheus.NewDesc("go_sql_open_connections", "The number of established connections both in use and idle.", []string{"db_name"}, nil)
	poolInUse        = prometheus.NewDesc("go_sql_in_use_connections", "The number of connections currently in use.", []string{"db_name"}, nil)
	poolIdle         = prometheus.NewDesc("go_sql_idle_connections", "The number of idle connections.", []string{"db_name"}, nil)
	poolWaitCount    = prometheus.NewDesc("go_sql_wait_count_total", "The total number of connections waited for.", []string{"db_name"}, nil)
	poolWaitDuration = prometheus.NewDesc("go_sql_wait_duration_seconds_total", "The total time blocked waiting for a new connection.", []string{"db_name"}, nil)
	poolIdleClosed   = prometheus.NewDesc("go_sql_max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime.", []string{"db_name"}, nil)
	poolLifeClosed   = prometheus.NewDesc("go_sql_max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime.", []string{"db_name"}, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolMaxOpen, poolOpen, poolInUse, poolIdle, poolWaitCount, poolWaitDuration, poolIdleClosed, poolLifeClosed} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.db.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolMaxOpen, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.InUse), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle), name)
		ch <- prometheus.MustNewConstMetric(poolWaitCount, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaitDuration, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
		ch <- prometheus.MustNewConstMetric(poolIdleClosed, prometheus.CounterValue, float64(s.MaxIdleTimeClosed), name)
		ch <- prometheus.MustNewConstMetric(poolLifeClosed, prometheus.CounterValue, float64(s.MaxLifetimeClosed), name)
	}
}
