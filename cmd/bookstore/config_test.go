package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
)

// envFunc is a getenv over a map.
func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func parseServeConfig(args []string, env map[string]string) (Config, error) {
	f := newFlagSet("serve", envFunc(env), serveSettings()...)
	if err := f.parse(args); err != nil {
		return Config{}, err
	}
	return serveConfig(f)
}

const secret32 = "0123456789abcdef0123456789abcdef"

var defaultLimits = ServerLimits{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
	WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 256 << 10}

func TestServeConfig(t *testing.T) {
	defaults := Config{
		Addr:              "127.0.0.1:8080",
		Database:          Database{Engine: engineSQLite, Path: "./bookstore.db"},
		JWTAlg:            "HS256",
		AccessTTL:         15 * time.Minute,
		RefreshTTL:        720 * time.Hour,
		Sessions:          SessionLimits{Retention: 168 * time.Hour, MaxPerUser: 100},
		StepUpMaxAge:      5 * time.Minute,
		MinPasswordLength: 15,
		Throttle:          true,
		ThrottleLimits:    auth.DefaultThrottleLimits(),
		Hashing:           HashSettings{Slots: runtime.NumCPU(), QueueWait: 2 * time.Second},
		Metrics:           true,
		LogLevel:          slog.LevelInfo,
		Limits:            defaultLimits,
	}
	with := func(change func(*Config)) Config {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"BOOKSTORE_ADDR":                  "0.0.0.0:9000",
				"BOOKSTORE_DATABASE_URL":          "sqlite:/var/lib/bookstore/db.sqlite",
				"BOOKSTORE_JWT_SECRET":            secret32,
				"BOOKSTORE_JWT_ALG":               "hs256",
				"BOOKSTORE_ACCESS_TTL":            "5m",
				"BOOKSTORE_REFRESH_TTL":           "24h",
				"BOOKSTORE_ADMIN_USERNAME":        "root",
				"BOOKSTORE_ADMIN_PASSWORD":        "pw",
				"BOOKSTORE_MIN_PASSWORD_LENGTH":   "8",
				"BOOKSTORE_THROTTLE":              "off",
				"BOOKSTORE_TRUSTED_PROXIES":       "10.0.0.0/8, 192.168.1.7/24,2001:db8::/32",
				"BOOKSTORE_LOG_LEVEL":             "debug",
				"BOOKSTORE_CORS_ORIGINS":          "https://app.example.com, http://localhost:5173/",
				"BOOKSTORE_WRITE_TIMEOUT":         "1m",
				"BOOKSTORE_MAX_HEADER_BYTES":      "1048576",
				"BOOKSTORE_SESSION_RETENTION":     "24h",
				"BOOKSTORE_MAX_SESSIONS_PER_USER": "5",
				"BOOKSTORE_STEP_UP_MAX_AGE":       "1m",
			},
			want: Config{
				Addr:              "0.0.0.0:9000",
				Database:          Database{Engine: engineSQLite, Path: "/var/lib/bookstore/db.sqlite"},
				JWTSecret:         []byte(secret32),
				JWTAlg:            "HS256",
				AccessTTL:         5 * time.Minute,
				RefreshTTL:        24 * time.Hour,
				Sessions:          SessionLimits{Retention: 24 * time.Hour, MaxPerUser: 5},
				StepUpMaxAge:      time.Minute,
				AdminUsername:     "root",
				AdminPassword:     "pw",
				MinPasswordLength: 8,
				Throttle:          false,
				ThrottleLimits:    auth.DefaultThrottleLimits(),
				Hashing:           HashSettings{Slots: runtime.NumCPU(), QueueWait: 2 * time.Second},
				Metrics:           true,
				TrustedProxies: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"),
					netip.MustParsePrefix("192.168.1.0/24"),
					netip.MustParsePrefix("2001:db8::/32"),
				},
				LogLevel:    slog.LevelDebug,
				CORSOrigins: []string{"https://app.example.com", "http://localhost:5173"},
				Limits: ServerLimits{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
					WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20},
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--addr", "127.0.0.1:9", "--database=other.db", "--jwt-alg", "EdDSA", "--log-level", "warn", "--throttle", "on"},
			env:  map[string]string{"BOOKSTORE_ADDR": "0.0.0.0:9000", "BOOKSTORE_DATABASE_URL": "env.db", "BOOKSTORE_LOG_LEVEL": "debug", "BOOKSTORE_THROTTLE": "off"},
			want: with(func(c *Config) {
				c.Addr, c.Database.Path, c.JWTAlg, c.LogLevel = "127.0.0.1:9", "other.db", "EdDSA", slog.LevelWarn
			}),
		},
		{
			name: "throttle and hashing",
			args: []string{"--throttle-ipv6-prefix", "56", "--hash-slots", "3"},
			env: map[string]string{"BOOKSTORE_THROTTLE_ACCOUNT_LIMIT": "20", "BOOKSTORE_THROTTLE_IPV4_PREFIX": "24",
				"BOOKSTORE_THROTTLE_IPV6_PREFIX": "48", "BOOKSTORE_HASH_QUEUE_WAIT": "500ms"},
			want: with(func(c *Config) {
				c.ThrottleLimits.LoginPerAccount, c.ThrottleLimits.IPv4Prefix, c.ThrottleLimits.IPv6Prefix = 20, 24, 56
				c.Hashing = HashSettings{Slots: 3, QueueWait: 500 * time.Millisecond}
			}),
		},
		{
			name: "PostgreSQL",
			env:  map[string]string{"BOOKSTORE_DATABASE_URL": "postgres://bookstore:pw@db.example.com:5432/bookstore?sslmode=verify-full"},
			want: with(func(c *Config) {
				c.Database = Database{Engine: enginePostgres, URL: "postgres://bookstore:pw@db.example.com:5432/bookstore?sslmode=verify-full"}
			}),
		},
		{
			name: "PostgreSQL with pool settings",
			args: []string{"--database", "postgresql://db/bookstore", "--db-max-conns", "20", "--db-statement-timeout", "0"},
			env:  map[string]string{"BOOKSTORE_DB_MAX_CONNS": "5", "BOOKSTORE_DB_CONNECT_TIMEOUT": "2s"},
			want: with(func(c *Config) {
				c.Database = Database{Engine: enginePostgres, URL: "postgresql://db/bookstore",
					Pool: PoolSettings{MaxConns: 20, ConnectTimeout: new(2 * time.Second), StatementTimeout: new(time.Duration(0))}}
			}),
		},
		{
			name: "an empty variable counts as unset",
			env:  map[string]string{"BOOKSTORE_ADDR": "", "BOOKSTORE_JWT_SECRET": ""},
			want: defaults,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServeConfig(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestServeConfigRefusesBadValues(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string // substrings of the error
		notWant string   // a secret the error must not repeat
	}{
		{name: "short secret", env: map[string]string{"BOOKSTORE_JWT_SECRET": "hunter2-hunter2"},
			want: []string{"BOOKSTORE_JWT_SECRET", "at least 32 bytes"}, notWant: "hunter2"},
		{name: "short secret flag", args: []string{"--jwt-secret", "hunter2-hunter2"}, env: map[string]string{"BOOKSTORE_JWT_SECRET": secret32},
			want: []string{"--jwt-secret", "at least 32 bytes"}, notWant: "hunter2"},
		{name: "secret with EdDSA", env: map[string]string{"BOOKSTORE_JWT_SECRET": secret32, "BOOKSTORE_JWT_ALG": "EdDSA"},
			want: []string{"BOOKSTORE_JWT_SECRET", "HS256"}, notWant: secret32},
		{name: "min password length 7", env: map[string]string{"BOOKSTORE_MIN_PASSWORD_LENGTH": "7"},
			want: []string{"BOOKSTORE_MIN_PASSWORD_LENGTH", "never allowed"}},
		{name: "min password length not a number", args: []string{"--min-password-length", "ten"},
			want: []string{"--min-password-length", "not a number"}},
		{name: "unknown alg", env: map[string]string{"BOOKSTORE_JWT_ALG": "RS256"},
			want: []string{"BOOKSTORE_JWT_ALG", `"RS256"`, "HS256 or EdDSA"}},
		{name: "alg none", args: []string{"--jwt-alg", "none"}, want: []string{"--jwt-alg"}},
		{name: "bad CIDR", env: map[string]string{"BOOKSTORE_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/33"},
			want: []string{"BOOKSTORE_TRUSTED_PROXIES", `"10.0.0.0/33"`}},
		{name: "bare IP is not a CIDR", args: []string{"--trusted-proxies", "10.1.2.3"},
			want: []string{"--trusted-proxies", "CIDR"}},
		{name: "bad scheme", env: map[string]string{"BOOKSTORE_DATABASE_URL": "mysql://u:secretpw@db/bookstore"},
			want: []string{"BOOKSTORE_DATABASE_URL", `unsupported database URL scheme "mysql"`}, notWant: "secretpw"},
		{name: "postgres URL that does not parse", env: map[string]string{"BOOKSTORE_DATABASE_URL": "postgres://u:secret%pw@db/bookstore"},
			want: []string{"BOOKSTORE_DATABASE_URL", "not a valid PostgreSQL URL"}, notWant: "secret"},
		{name: "max conns", env: map[string]string{"BOOKSTORE_DATABASE_URL": "postgres://db/b", "BOOKSTORE_DB_MAX_CONNS": "0"},
			want: []string{"BOOKSTORE_DB_MAX_CONNS", "[1, 1000]"}},
		{name: "connect timeout", args: []string{"--db-connect-timeout", "soon"}, want: []string{"--db-connect-timeout", "duration"}},
		{name: "statement timeout", env: map[string]string{"BOOKSTORE_DB_STATEMENT_TIMEOUT": "-1s"}, want: []string{"BOOKSTORE_DB_STATEMENT_TIMEOUT", "out of range"}},
		{name: "sqlite URL with slashes", env: map[string]string{"BOOKSTORE_DATABASE_URL": "sqlite:///tmp/x.db"},
			want: []string{"BOOKSTORE_DATABASE_URL", "sqlite:PATH"}},
		{name: "empty sqlite path", args: []string{"--database", "sqlite:"}, want: []string{"--database"}},
		{name: "file URI", args: []string{"--database", "file:x.db?mode=memory"}, want: []string{"--database", "file:"}},
		{name: "bad addr", env: map[string]string{"BOOKSTORE_ADDR": "8080"}, want: []string{"BOOKSTORE_ADDR", "HOST:PORT"}},
		{name: "bad access ttl", env: map[string]string{"BOOKSTORE_ACCESS_TTL": "soon"}, want: []string{"BOOKSTORE_ACCESS_TTL", "duration"}},
		{name: "access ttl too long", args: []string{"--access-ttl", "48h"}, want: []string{"--access-ttl", "out of range"}},
		{name: "refresh shorter than access", env: map[string]string{"BOOKSTORE_ACCESS_TTL": "1h", "BOOKSTORE_REFRESH_TTL": "30m"},
			want: []string{"BOOKSTORE_REFRESH_TTL", "shorter"}},
		{name: "throttle", env: map[string]string{"BOOKSTORE_THROTTLE": "maybe"}, want: []string{"BOOKSTORE_THROTTLE", "on nor off"}},
		{name: "account limit", env: map[string]string{"BOOKSTORE_THROTTLE_ACCOUNT_LIMIT": "0"}, want: []string{"BOOKSTORE_THROTTLE_ACCOUNT_LIMIT", "[1, 1000000]"}},
		{name: "IPv4 prefix", args: []string{"--throttle-ipv4-prefix", "33"}, want: []string{"--throttle-ipv4-prefix", "[8, 32]"}},
		{name: "IPv6 prefix", env: map[string]string{"BOOKSTORE_THROTTLE_IPV6_PREFIX": "/64"}, want: []string{"BOOKSTORE_THROTTLE_IPV6_PREFIX", "[16, 128]"}},
		{name: "hash slots", env: map[string]string{"BOOKSTORE_HASH_SLOTS": "0"}, want: []string{"BOOKSTORE_HASH_SLOTS", "[1, 1024]"}},
		{name: "hash queue wait", args: []string{"--hash-queue-wait", "1ms"}, want: []string{"--hash-queue-wait", "out of range"}},
		{name: "log level", args: []string{"--log-level", "loud"}, want: []string{"--log-level", "debug, info, warn, error"}},
		{name: "CORS wildcard", env: map[string]string{"BOOKSTORE_CORS_ORIGINS": "*"}, want: []string{"BOOKSTORE_CORS_ORIGINS", "origin"}},
		{name: "CORS origin with a path", args: []string{"--cors-origins", "https://a.example/app"}, want: []string{"--cors-origins"}},
		{name: "timeout not a duration", env: map[string]string{"BOOKSTORE_READ_TIMEOUT": "long"}, want: []string{"BOOKSTORE_READ_TIMEOUT", "duration"}},
		{name: "header limit too small", args: []string{"--max-header-bytes", "100"}, want: []string{"--max-header-bytes", "4096"}},
		{name: "unknown flag", args: []string{"--port", "80"}, want: []string{"-port"}},
		{name: "positional argument", args: []string{"extra"}, want: []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServeConfig(tt.args, tt.env)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v (%T); want a usage error", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q repeats a secret", err)
			}
		})
	}
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		status     int
		wantStdout string
		wantStderr string
	}{
		{name: "bad value exits 2", env: map[string]string{"BOOKSTORE_MIN_PASSWORD_LENGTH": "7"}, status: 2, wantStderr: "BOOKSTORE_MIN_PASSWORD_LENGTH"},
		{name: "unknown command", args: []string{"frobnicate"}, status: 2, wantStderr: "Usage:"},
		{name: "help", args: []string{"--help"}, status: 0, wantStdout: "env BOOKSTORE_JWT_SECRET, default none"},
		{name: "serve help", args: []string{"serve", "-h"}, status: 0, wantStdout: "env BOOKSTORE_ADDR, default 127.0.0.1:8080"},
		{name: "version", args: []string{"version"}, status: 0, wantStdout: "bookstore dev go1."},
		{name: "unknown flag points at help", args: []string{"serve", "--nope"}, status: 2, wantStderr: "Run 'bookstore serve --help' for usage."},
		{name: "--version", args: []string{"--version"}, status: 0, wantStdout: "bookstore dev go1."},
		{name: "version help", args: []string{"version", "--help"}, status: 0, wantStdout: "Usage: bookstore version"},
		{name: "version with an argument", args: []string{"version", "now"}, status: 2, wantStderr: `unexpected argument "now"`},
		{name: "user without create", args: []string{"user", "delete"}, status: 2, wantStderr: "create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr, envFunc(tt.env))
			if got != tt.status {
				t.Errorf("status = %d, want %d; stderr:\n%s", got, tt.status, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr.String())
			}
		})
	}
}

func TestDatabaseString(t *testing.T) {
	tests := []struct {
		db   Database
		want string
	}{
		{Database{Engine: engineSQLite, Path: "./bookstore.db"}, "sqlite:./bookstore.db"},
		{Database{Engine: enginePostgres, URL: "postgres://bookstore:s3cret@db:5432/bookstore?sslmode=require"},
			"postgres://bookstore:xxxxx@db:5432/bookstore?sslmode=require"},
		{Database{Engine: enginePostgres, URL: "postgres://db/bookstore?user=bookstore&password=s3cret"},
			"postgres://db/bookstore?password=xxxxx&user=bookstore"},
		{Database{Engine: enginePostgres, URL: "postgres://db/bookstore?sslpassword=s3cret"}, "postgres://db/bookstore?sslpassword=xxxxx"},
		{Database{Engine: enginePostgres, URL: "postgres://u:s3cret%zz@db/b"}, "(a URL that does not parse)"},
	}
	for _, tt := range tests {
		if got := tt.db.String(); got != tt.want {
			t.Errorf("%q: String() = %q, want %q", tt.db.URL, got, tt.want)
		}
	}
	// And so the log line of a Config.
	var buf bytes.Buffer
	c := Config{Database: Database{Engine: enginePostgres, URL: "postgres://bookstore:s3cret@db/bookstore"}}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
	if strings.Contains(buf.String(), "s3cret") || !strings.Contains(buf.String(), "postgres://bookstore:xxxxx@db/bookstore") {
		t.Errorf("the config logs as %s", buf.String())
	}
}
