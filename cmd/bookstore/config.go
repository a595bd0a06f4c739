package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/auth"
)

// setting is one configuration value: its flag, the environment variable
// behind it and its default. Names and defaults are the contract's (issue 2,
// "Configuration"); --help prints them from here.
type setting struct {
	flag, env, def, arg, usage string
}

// settings lists every setting, in the order --help shows them.
func settings() []setting {
	return []setting{
		{"addr", "BOOKSTORE_ADDR", "127.0.0.1:8080", "HOST:PORT", "address to listen on"},
		{"database", "BOOKSTORE_DATABASE_URL", "./bookstore.db", "URL", "the database: a SQLite file path or sqlite:PATH, or a PostgreSQL URL postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...\n" +
			"(prefer the environment variable for a URL with a password, since a flag shows in the process list)"},
		{"db-max-conns", "BOOKSTORE_DB_MAX_CONNS", "", "N", "PostgreSQL only: connections in this process's pool (1 to 1000); keep replicas × N under the server's max_connections\n" +
			"(unset: the URL's pool_max_conns, else 16)"},
		{"db-connect-timeout", "BOOKSTORE_DB_CONNECT_TIMEOUT", "", "DURATION", "PostgreSQL only: longest to open one connection, TLS and authentication included; 0 is no limit\n" +
			"(unset: the URL's connect_timeout, else 5s)"},
		{"db-statement-timeout", "BOOKSTORE_DB_STATEMENT_TIMEOUT", "", "DURATION", "PostgreSQL only: the database cancels a statement running longer, and its request gets a 503; 0 is no limit\n" +
			"(unset: the URL's statement_timeout, else 10s)"},
		{"jwt-secret", "BOOKSTORE_JWT_SECRET", "", "SECRET", "HS256 signing key, its bytes as given, at least 32 bytes; prefer the environment variable,\n" +
			"since a flag shows in the process list (default: a key generated on first start and kept in the database)"},
		{"jwt-alg", "BOOKSTORE_JWT_ALG", "HS256", "ALG", "JWT signing algorithm: HS256 or EdDSA"},
		{"access-ttl", "BOOKSTORE_ACCESS_TTL", "15m", "DURATION", "lifetime of an access token (1s to 24h)"},
		{"refresh-ttl", "BOOKSTORE_REFRESH_TTL", "720h", "DURATION", "absolute lifetime of a session and its refresh tokens; rotation does not extend it"},
		{"session-retention", "BOOKSTORE_SESSION_RETENTION", "168h", "DURATION", "how long expired and revoked sessions and spent refresh tokens are kept before a background purge deletes them (1m to 8760h)"},
		{"max-sessions-per-user", "BOOKSTORE_MAX_SESSIONS_PER_USER", "100", "N", "most live sessions one user may hold; a login beyond it ends the oldest (1 to 100000)"},
		{"step-up-max-age", "BOOKSTORE_STEP_UP_MAX_AGE", "5m", "DURATION", "how recent a password login must be to delete one's own account (RFC 9470 max_age; 10s to 24h)"},
		{"min-password-length", "BOOKSTORE_MIN_PASSWORD_LENGTH", "15", "N", "shortest password accepted, in characters (8 to 128)"},
		{"throttle", "BOOKSTORE_THROTTLE", "on", "on|off", "throttle failed logins and registrations (off is for benchmarks only)"},
		{"throttle-account-limit", "BOOKSTORE_THROTTLE_ACCOUNT_LIMIT", "100", "N", "failed logins for one account per hour from all addresses together (1 to 1000000); past it only addresses\n" +
			"that logged into the account in the last 30 days may go on trying, each within its own limit"},
		{"throttle-ipv4-prefix", "BOOKSTORE_THROTTLE_IPV4_PREFIX", "32", "BITS", "leading bits of an IPv4 client address that every per-address limit counts by (8 to 32)"},
		{"throttle-ipv6-prefix", "BOOKSTORE_THROTTLE_IPV6_PREFIX", "64", "BITS", "leading bits of an IPv6 client address that every per-address limit counts by (16 to 128); one host usually holds a /64"},
		{"hash-slots", "BOOKSTORE_HASH_SLOTS", "", "N", "password hashes (19 MiB, tens of ms of CPU each) run at once (1 to 1024; unset: the number of CPUs)"},
		{"hash-queue-wait", "BOOKSTORE_HASH_QUEUE_WAIT", "2s", "DURATION", "most hashing work that may queue for the slots (10ms to 1m); past it logins, registrations and\n" +
			"password changes get 503 with Retry-After at once"},
		{"trusted-proxies", "BOOKSTORE_TRUSTED_PROXIES", "", "CIDRS", "comma-separated CIDR prefixes of proxies whose X-Forwarded-For is trusted"},
		{"log-level", "BOOKSTORE_LOG_LEVEL", "info", "LEVEL", "log level: debug, info, warn or error"},
		{"metrics", "BOOKSTORE_METRICS", "on", "on|off", "serve Prometheus metrics at GET /metrics on the API's address"},
		{"debug-addr", "BOOKSTORE_DEBUG_ADDR", "", "HOST:PORT", "serve Go's profiler (net/http/pprof, /debug/pprof/) on this address of its own; off unless set.\n" +
			"A bare :PORT is loopback (127.0.0.1:PORT): profiles show the program's internals, so keep them off the network"},
		{"cors-origins", "BOOKSTORE_CORS_ORIGINS", "", "ORIGINS", "comma-separated origins (e.g. https://app.example.com) whose pages may call the API; CORS is off without it"},
		{"read-header-timeout", "BOOKSTORE_READ_HEADER_TIMEOUT", "5s", "DURATION", "longest a client may take to send the request headers"},
		{"read-timeout", "BOOKSTORE_READ_TIMEOUT", "30s", "DURATION", "longest a client may take to send a whole request"},
		{"write-timeout", "BOOKSTORE_WRITE_TIMEOUT", "30s", "DURATION", "longest the server may take to write a response"},
		{"idle-timeout", "BOOKSTORE_IDLE_TIMEOUT", "120s", "DURATION", "how long an idle keep-alive connection stays open"},
		{"max-header-bytes", "BOOKSTORE_MAX_HEADER_BYTES", "262144", "BYTES", "largest request header block accepted (4096 to 8388608); room for a long token"},
	}
}

// The first admin is configured by environment only: a password on the
// command line would show in the process list.
const (
	envAdminUsername = app.EnvAdminUsername
	envAdminPassword = app.EnvAdminPassword
)

// Config is the server's configuration, validated.
type Config struct {
	Addr              string
	Database          Database
	JWTSecret         []byte // nil: a key generated on first start and kept in the database
	JWTAlg            string // auth.AlgHS256 or auth.AlgEdDSA
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	Sessions          SessionLimits
	StepUpMaxAge      time.Duration
	AdminUsername     string
	AdminPassword     string
	MinPasswordLength int
	Throttle          bool
	ThrottleLimits    auth.ThrottleLimits // when Throttle is on
	Hashing           HashSettings
	Metrics           bool           // GET /metrics
	DebugAddr         string         // the profiler's own listener; "" is off
	TrustedProxies    []netip.Prefix // peers whose X-Forwarded-For names the client
	LogLevel          slog.Level
	CORSOrigins       []string
	Limits            ServerLimits
}

// HashSettings bound the password hashing: how many hashes run at once and
// how much work may queue for them.
type HashSettings struct {
	Slots     int
	QueueWait time.Duration
}

// SessionLimits keep the session tables small.
type SessionLimits struct {
	Retention  time.Duration // ended sessions and spent refresh tokens are purged this long after
	MaxPerUser int           // live sessions per user; a login beyond ends the oldest
}

// ServerLimits bound what one client can make the server hold.
type ServerLimits struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
}

// LogValue lists the settings that are safe to log: never the JWT secret or
// the admin password, whatever logs a Config.
func (c Config) LogValue() slog.Value {
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("database", c.Database.String()), // the password redacted
		slog.String("jwt_alg", c.JWTAlg),
		slog.Bool("jwt_secret_configured", c.JWTSecret != nil),
		slog.String("access_ttl", c.AccessTTL.String()),
		slog.String("refresh_ttl", c.RefreshTTL.String()),
		slog.String("session_retention", c.Sessions.Retention.String()),
		slog.Int("max_sessions_per_user", c.Sessions.MaxPerUser),
		slog.String("step_up_max_age", c.StepUpMaxAge.String()),
		slog.Int("min_password_length", c.MinPasswordLength),
		slog.Bool("throttle", c.Throttle),
		slog.Int("throttle_account_limit", c.ThrottleLimits.LoginPerAccount),
		slog.Int("throttle_ipv4_prefix", c.ThrottleLimits.IPv4Prefix),
		slog.Int("throttle_ipv6_prefix", c.ThrottleLimits.IPv6Prefix),
		slog.Int("hash_slots", c.Hashing.Slots),
		slog.String("hash_queue_wait", c.Hashing.QueueWait.String()),
		slog.Bool("metrics", c.Metrics),
		slog.String("debug_addr", c.DebugAddr),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.String("trusted_proxies", strings.Join(proxies, ",")),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// usageError is a mistake in the command line or the configuration. run
// exits with status 2 for it, 1 for every other error. A bad setting is
// one line naming it; a command line that does not parse (syntax) also
// points at --help.
type usageError struct {
	msg    string
	syntax bool
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// syntaxf is a usage error in the shape of the command line: an unknown
// flag, an argument too many.
func syntaxf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), syntax: true}
}

// flagSet is one subcommand's flags, each backed by an environment
// variable: a flag wins over its variable, which wins over the default.
type flagSet struct {
	fs       *flag.FlagSet
	getenv   func(string) string
	settings map[string]setting
	values   map[string]*string
	names    []string // of settings, in help order
}

// newFlagSet declares the settings named (flag names) on a new FlagSet. The
// FlagSet prints nothing itself: run decides where help and errors go.
func newFlagSet(name string, getenv func(string) string, names ...string) *flagSet {
	f := &flagSet{
		fs:       flag.NewFlagSet(name, flag.ContinueOnError),
		getenv:   getenv,
		settings: make(map[string]setting),
		values:   make(map[string]*string),
	}
	f.fs.SetOutput(io.Discard)
	f.fs.Usage = func() {}
	all := make(map[string]setting)
	for _, s := range settings() {
		all[s.flag] = s
	}
	for _, n := range names {
		s, ok := all[n]
		if !ok {
			panic("bookstore: no setting " + n) // a programming error
		}
		f.settings[n] = s
		f.values[n] = f.fs.String(n, s.def, s.usage)
		f.names = append(f.names, n)
	}
	return f
}

// parse parses args and refuses positional arguments.
func (f *flagSet) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return syntaxf("%s", err)
	}
	if f.fs.NArg() > 0 {
		return syntaxf("unexpected argument %q", f.fs.Arg(0))
	}
	return nil
}

// lookup returns the value of setting name and the name to blame in an
// error: the flag if it was given, else the environment variable, each
// followed by the other so the message names the setting both ways.
func (f *flagSet) lookup(name string) (value, source string) {
	s := f.settings[name]
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	if given {
		return *f.values[name], "--" + name + " (" + s.env + ")"
	}
	// An empty variable counts as unset, as in most shells' ${VAR:-default}.
	if v := f.getenv(s.env); v != "" {
		return v, s.env + " (--" + name + ")"
	}
	return s.def, s.env + " (--" + name + ")"
}

// printUsage writes the flags of f, each with its variable and default,
// after the other (setting-less) flags of the FlagSet.
func (f *flagSet) printUsage(w io.Writer) {
	n := 0
	f.fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return // e.g. version
	}
	fmt.Fprintln(w, "Flags (a flag wins over its environment variable, which wins over the default):")
	f.fs.VisitAll(func(fl *flag.Flag) {
		if _, ok := f.settings[fl.Name]; ok {
			return
		}
		arg, usage := flag.UnquoteUsage(fl) // "the `NAME`" → NAME, "the NAME"
		if arg != "" {
			arg = " " + arg
		}
		fmt.Fprintf(w, "  --%s%s\n      %s\n", fl.Name, arg, usage)
	})
	for _, n := range f.names {
		s := f.settings[n]
		def := s.def
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s %s\n      %s\n      env %s, default %s\n", s.flag, s.arg,
			strings.ReplaceAll(s.usage, "\n", "\n      "), s.env, def)
	}
}

// The settings, parsed and checked one by one so each subcommand reads only
// the ones it declared. Every error names the flag or variable to fix.

func (f *flagSet) addr() (string, error) {
	v, src := f.lookup("addr")
	return checkHostPort(src, v)
}

// debugAddr reads the profiler's address: "" (off), or HOST:PORT with an
// empty host made loopback.
func (f *flagSet) debugAddr() (string, error) {
	v, src := f.lookup("debug-addr")
	if v == "" {
		return "", nil
	}
	if _, err := checkHostPort(src, v); err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(v)
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// checkHostPort returns v if it is HOST:PORT (the host may be empty).
func checkHostPort(src, v string) (string, error) {
	_, port, err := net.SplitHostPort(v)
	if err != nil || port == "" {
		return "", usagef("%s: %q is not HOST:PORT (e.g. 127.0.0.1:8080, or :8080 for every interface)", src, v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", usagef("%s: port %q of %q is not a number from 0 to 65535 (e.g. 127.0.0.1:8080)", src, port, v)
	}
	return v, nil
}

// The database engines BOOKSTORE_DATABASE_URL can select.
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// Database says where the data lives: a SQLite file, or a PostgreSQL
// database and how to pool connections to it.
type Database struct {
	Engine string // engineSQLite or enginePostgres
	Path   string // SQLite: the file
	// URL is PostgreSQL's connection URL. It may hold a password: log and
	// print String(), never URL.
	URL  string
	Pool PoolSettings // PostgreSQL only
}

// PoolSettings tune the PostgreSQL pool; a zero field leaves the URL's
// setting (else the adapter's default) alone.
type PoolSettings struct {
	MaxConns         int            // 0: unset
	ConnectTimeout   *time.Duration // nil: unset
	StatementTimeout *time.Duration // nil: unset
}

func (p PoolSettings) isZero() bool {
	return p.MaxConns == 0 && p.ConnectTimeout == nil && p.StatementTimeout == nil
}

// String is the database for logs and messages: sqlite:PATH, or the URL
// with its password replaced by xxxxx.
func (d Database) String() string {
	if d.Engine == enginePostgres {
		return redactURL(d.URL)
	}
	return "sqlite:" + d.Path
}

// redactURL hides the password of a postgres:// URL, in the user info and
// in the query (password=, sslpassword=). A URL that does not parse is not
// shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	q := u.Query()
	redacted := false
	for k := range q {
		if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" {
			q.Set(k, "xxxxx")
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// database reads BOOKSTORE_DATABASE_URL and the pool settings. A URL is
// never echoed in an error, since it may hold a password.
func (f *flagSet) database() (Database, error) {
	v, src := f.lookup("database")
	d, err := parseDatabase(v, src)
	if err != nil {
		return Database{}, err
	}
	if d.Pool, err = f.poolSettings(); err != nil {
		return Database{}, err
	}
	return d, nil
}

// parseDatabase reads a value of BOOKSTORE_DATABASE_URL, or of another
// option that names a database the same way; src names it in errors.
func parseDatabase(v, src string) (Database, error) {
	lower := strings.ToLower(v)
	var d Database
	switch {
	case strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://"):
		// url.Parse's errors quote the URL: say what is wrong without it.
		if _, err := url.Parse(v); err != nil {
			return Database{}, usagef("%s: not a valid PostgreSQL URL (e.g. postgres://bookstore:PASSWORD@db.example.com:5432/bookstore?sslmode=verify-full); "+
				"percent-encode special characters in the password", src)
		}
		d = Database{Engine: enginePostgres, URL: v}
	case strings.HasPrefix(lower, "sqlite:"):
		path := v[len("sqlite:"):]
		if path == "" || strings.HasPrefix(path, "//") {
			return Database{}, usagef("%s: write sqlite:PATH, e.g. sqlite:./bookstore.db or sqlite:/var/lib/bookstore/bookstore.db", src)
		}
		d = Database{Engine: engineSQLite, Path: path}
	case strings.Contains(v, "://"):
		scheme := v[:strings.Index(v, "://")]
		if len(scheme) > 20 || strings.ContainsAny(scheme, "@:/ ") {
			scheme = "…" // not a scheme after all: maybe part of a secret
		}
		return Database{}, usagef("%s: unsupported database URL scheme %q; use a SQLite file path, sqlite:PATH or a postgres:// URL", src, scheme)
	case strings.HasPrefix(lower, "file:"):
		return Database{}, usagef("%s: SQLite URIs (file:...) are not supported; use a file path or sqlite:PATH", src)
	case v == "":
		return Database{}, usagef("%s: must not be empty", src)
	default:
		d = Database{Engine: engineSQLite, Path: v}
	}
	return d, nil
}

// poolSettings reads the PostgreSQL pool settings, when the subcommand has
// them; unset ones stay zero.
func (f *flagSet) poolSettings() (PoolSettings, error) {
	var p PoolSettings
	if _, ok := f.settings["db-max-conns"]; !ok {
		return p, nil
	}
	if v, src := f.lookup("db-max-conns"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return PoolSettings{}, usagef("%s: %q is not a number of connections in [1, 1000]", src, v)
		}
		p.MaxConns = n
	}
	for _, t := range []struct {
		name string
		dst  **time.Duration
	}{{"db-connect-timeout", &p.ConnectTimeout}, {"db-statement-timeout", &p.StatementTimeout}} {
		if v, _ := f.lookup(t.name); v == "" {
			continue
		}
		d, err := f.duration(t.name, 0, time.Hour)
		if err != nil {
			return PoolSettings{}, err
		}
		*t.dst = &d
	}
	return p, nil
}

// databaseSettings are the flags of every subcommand that opens the
// database.
func databaseSettings(more ...string) []string {
	return append([]string{"database", "db-max-conns", "db-connect-timeout", "db-statement-timeout"}, more...)
}

// jwt reads the algorithm and the optional secret together, since an HS256
// secret does not fit EdDSA. The secret is never part of an error message.
func (f *flagSet) jwt() (alg string, secret []byte, err error) {
	v, src := f.lookup("jwt-alg")
	switch strings.ToUpper(v) {
	case strings.ToUpper(auth.AlgHS256):
		alg = auth.AlgHS256
	case strings.ToUpper(auth.AlgEdDSA):
		alg = auth.AlgEdDSA
	default:
		return "", nil, usagef("%s: unknown algorithm %q; want HS256 or EdDSA", src, v)
	}
	s, src := f.lookup("jwt-secret")
	if s == "" {
		return alg, nil, nil
	}
	if len(s) < 32 {
		return "", nil, usagef("%s: must be at least 32 bytes (256 bits), got %d; e.g. openssl rand -base64 32", src, len(s))
	}
	if alg != auth.AlgHS256 {
		return "", nil, usagef("%s: a secret is an HS256 key; unset it to use %s (its key is generated and kept in the database)", src, alg)
	}
	return alg, []byte(s), nil
}

func (f *flagSet) duration(name string, lo, hi time.Duration) (time.Duration, error) {
	v, src := f.lookup(name)
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("%s: %q is not a duration (e.g. 15m, 720h)", src, v)
	}
	if d < lo || d > hi {
		return 0, usagef("%s: %v is out of range [%v, %v]", src, d, lo, hi)
	}
	return d, nil
}

func (f *flagSet) ttls() (access, refresh time.Duration, err error) {
	if access, err = f.duration("access-ttl", time.Second, 24*time.Hour); err != nil {
		return 0, 0, err
	}
	// Ten years is "forever" for a session; more is surely a typo.
	if refresh, err = f.duration("refresh-ttl", time.Minute, 10*365*24*time.Hour); err != nil {
		return 0, 0, err
	}
	if refresh < access {
		_, src := f.lookup("refresh-ttl")
		return 0, 0, usagef("%s: %v is shorter than the access token lifetime %v", src, refresh, access)
	}
	return access, refresh, nil
}

func (f *flagSet) sessionLimits() (SessionLimits, error) {
	var l SessionLimits
	var err error
	if l.Retention, err = f.duration("session-retention", time.Minute, 365*24*time.Hour); err != nil {
		return SessionLimits{}, err
	}
	v, src := f.lookup("max-sessions-per-user")
	if l.MaxPerUser, err = strconv.Atoi(v); err != nil || l.MaxPerUser < 1 || l.MaxPerUser > 100_000 {
		return SessionLimits{}, usagef("%s: %q is not a number of sessions in [1, 100000]", src, v)
	}
	return l, nil
}

func (f *flagSet) minPasswordLength() (int, error) {
	v, src := f.lookup("min-password-length")
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usagef("%s: %q is not a number", src, v)
	}
	if n < auth.MinPasswordLength || n > auth.MaxPasswordLength {
		return 0, usagef("%s: %d is out of range [%d, %d]; passwords shorter than %d are never allowed",
			src, n, auth.MinPasswordLength, auth.MaxPasswordLength, auth.MinPasswordLength)
	}
	return n, nil
}

// integer reads a whole number in [lo, hi].
func (f *flagSet) integer(name string, lo, hi int) (int, error) {
	v, src := f.lookup(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, usagef("%s: %q is not a number in [%d, %d]", src, v, lo, hi)
	}
	return n, nil
}

// throttleLimits are the contract's limits with the configurable ones set.
func (f *flagSet) throttleLimits() (auth.ThrottleLimits, error) {
	l := auth.DefaultThrottleLimits()
	var err error
	if l.LoginPerAccount, err = f.integer("throttle-account-limit", 1, 1_000_000); err != nil {
		return l, err
	}
	if l.IPv4Prefix, err = f.integer("throttle-ipv4-prefix", 8, 32); err != nil {
		return l, err
	}
	if l.IPv6Prefix, err = f.integer("throttle-ipv6-prefix", 16, 128); err != nil {
		return l, err
	}
	return l, nil
}

// hashSettings reads the hashing slots (unset: one per CPU) and the
// queue's wait.
func (f *flagSet) hashSettings(numCPU int) (HashSettings, error) {
	h := HashSettings{Slots: numCPU}
	var err error
	if v, _ := f.lookup("hash-slots"); v != "" {
		if h.Slots, err = f.integer("hash-slots", 1, 1024); err != nil {
			return h, err
		}
	}
	if h.QueueWait, err = f.duration("hash-queue-wait", 10*time.Millisecond, time.Minute); err != nil {
		return h, err
	}
	return h, nil
}

// onOff reads a setting that is on or off (throttle, metrics).
func (f *flagSet) onOff(name string) (bool, error) {
	v, src := f.lookup(name)
	switch strings.ToLower(v) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, usagef("%s: %q is neither on nor off", src, v)
}

func (f *flagSet) trustedProxies() ([]netip.Prefix, error) {
	v, src := f.lookup("trusted-proxies")
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, usagef("%s: %q is not a CIDR prefix (e.g. 10.0.0.0/8 or 2001:db8::/32)", src, item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (f *flagSet) logLevel() (slog.Level, error) {
	v, src := f.lookup("log-level")
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usagef("%s: %q is not one of debug, info, warn, error", src, v)
}

func (f *flagSet) corsOrigins() ([]string, error) {
	v, src := f.lookup("cors-origins")
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimRight(strings.TrimSpace(item), "/")
		if item == "" {
			continue
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || item == "*" {
			return nil, usagef("%s: %q is not an origin like https://app.example.com", src, item)
		}
		out = append(out, item)
	}
	return out, nil
}

func (f *flagSet) serverLimits() (ServerLimits, error) {
	var l ServerLimits
	var err error
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"read-header-timeout", &l.ReadHeaderTimeout}, {"read-timeout", &l.ReadTimeout},
		{"write-timeout", &l.WriteTimeout}, {"idle-timeout", &l.IdleTimeout},
	} {
		if *d.dst, err = f.duration(d.name, 100*time.Millisecond, time.Hour); err != nil {
			return ServerLimits{}, err
		}
	}
	v, src := f.lookup("max-header-bytes")
	if l.MaxHeaderBytes, err = strconv.Atoi(v); err != nil || l.MaxHeaderBytes < 4096 || l.MaxHeaderBytes > 8<<20 {
		return ServerLimits{}, usagef("%s: %q is not a number of bytes in [4096, 8388608]", src, v)
	}
	return l, nil
}

// serveSettings are the flags of bookstore serve: all of them.
func serveSettings() []string {
	var names []string
	for _, s := range settings() {
		names = append(names, s.flag)
	}
	return names
}

// serveConfig reads and checks every setting of serve. It returns the
// first error.
func serveConfig(f *flagSet) (Config, error) {
	var c Config
	var err error
	if c.Addr, err = f.addr(); err != nil {
		return Config{}, err
	}
	if c.Database, err = f.database(); err != nil {
		return Config{}, err
	}
	if c.JWTAlg, c.JWTSecret, err = f.jwt(); err != nil {
		return Config{}, err
	}
	if c.AccessTTL, c.RefreshTTL, err = f.ttls(); err != nil {
		return Config{}, err
	}
	if c.Sessions, err = f.sessionLimits(); err != nil {
		return Config{}, err
	}
	if c.StepUpMaxAge, err = f.duration("step-up-max-age", 10*time.Second, 24*time.Hour); err != nil {
		return Config{}, err
	}
	if c.MinPasswordLength, err = f.minPasswordLength(); err != nil {
		return Config{}, err
	}
	if c.Throttle, err = f.onOff("throttle"); err != nil {
		return Config{}, err
	}
	if c.ThrottleLimits, err = f.throttleLimits(); err != nil {
		return Config{}, err
	}
	if c.Hashing, err = f.hashSettings(runtime.NumCPU()); err != nil {
		return Config{}, err
	}
	if c.Metrics, err = f.onOff("metrics"); err != nil {
		return Config{}, err
	}
	if c.DebugAddr, err = f.debugAddr(); err != nil {
		return Config{}, err
	}
	if c.TrustedProxies, err = f.trustedProxies(); err != nil {
		return Config{}, err
	}
	if c.LogLevel, err = f.logLevel(); err != nil {
		return Config{}, err
	}
	if c.CORSOrigins, err = f.corsOrigins(); err != nil {
		return Config{}, err
	}
	if c.Limits, err = f.serverLimits(); err != nil {
		return Config{}, err
	}
	c.AdminUsername = f.getenv(envAdminUsername)
	c.AdminPassword = f.getenv(envAdminPassword)
	return c, nil
}

// appConfig is the service's part of the configuration.
func (m *Main) appConfig() app.Config {
	c := m.Config
	var throttle *auth.ThrottleLimits // nil: off
	if c.Throttle {
		throttle = &c.ThrottleLimits
	}
	return app.Config{
		Logger:             m.Logger,
		Database:           c.Database.String(),
		Argon2:             m.argon2,
		HashSlots:          c.Hashing.Slots,
		HashQueueWait:      c.Hashing.QueueWait,
		MinPasswordLength:  c.MinPasswordLength,
		JWTAlg:             c.JWTAlg,
		JWTSecret:          c.JWTSecret,
		AccessTTL:          c.AccessTTL,
		RefreshTTL:         c.RefreshTTL,
		Throttle:           throttle,
		MaxSessionsPerUser: c.Sessions.MaxPerUser,
		SessionRetention:   c.Sessions.Retention,
		StepUpMaxAge:       c.StepUpMaxAge,
		TrustedProxies:     c.TrustedProxies,
		CORSOrigins:        c.CORSOrigins,
		Metrics:            c.Metrics,
		AdminUsername:      c.AdminUsername,
		AdminPassword:      c.AdminPassword,
		Tracer:             m.Tracer,
		StartRetryMax:      m.retryMax,
	}
}
