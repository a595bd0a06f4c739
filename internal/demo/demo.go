// Package demo runs the real API in-process on a loopback port, over a
// SQLite database in a temporary directory, for runnable examples (the Go
// client's), client tests and browser tests (Swagger UI's). Password
// hashing is cheap and throttling is off unless asked for, so it must never
// serve anything real: cmd/bookstore is the server.
package demo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// Options adjust the server; the zero value is a plain server.
type Options struct {
	// AccessTTL is the lifetime of access tokens (default 15 minutes).
	AccessTTL time.Duration
	// Metrics serves Prometheus metrics at /metrics.
	Metrics bool
	// Logger receives the server's log (default: discarded).
	Logger *slog.Logger
	// Throttle limits failed logins and registrations with the default
	// limits (auth.DefaultThrottleLimits); off by default.
	Throttle bool
	// HashQueueWait bounds the queue for the two hashing slots
	// (auth.MaxQueueWait); zero: the default.
	HashQueueWait time.Duration
	// StepUpMaxAge is how recent a login must be to delete one's own
	// account (0: httpapi.DefaultStepUpMaxAge).
	StepUpMaxAge time.Duration
	// Tracer traces requests, store calls and hashes as the program does
	// with tracing on; nil: off.
	Tracer trace.TracerProvider
}

// Server is a running API. Close it when done.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Store is the server's database, for tests that look behind the API.
	Store *sqlite.DB
	// Hasher hashes the server's passwords, for tests that hold its slots.
	Hasher *auth.Hasher

	http *httptest.Server
	dir  string
	once sync.Once
}

// cheapArgon2 makes a hash cost microseconds instead of tens of
// milliseconds. Demo servers only.
var cheapArgon2 = auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Start runs a new server with an empty database.
func Start(opts Options) (_ *Server, err error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bookstore-demo-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Store, err = sqlite.Open(ctx, filepath.Join(dir, "bookstore.db")); err != nil {
		return nil, err
	}
	key, err := auth.NewHS256Key(time.Now())
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	var throttle *auth.ThrottleLimits // nil: off
	if opts.Throttle {
		limits := auth.DefaultThrottleLimits()
		throttle = &limits
	}
	svc, err := app.Open(ctx, app.Config{
		Logger:        log,
		Argon2:        cheapArgon2,
		HashSlots:     2,
		HashQueueWait: opts.HashQueueWait,
		SigningKeys:   []bookstore.SigningKey{key},
		AccessTTL:     opts.AccessTTL,
		RefreshTTL:    24 * time.Hour,
		Throttle:      throttle,
		Metrics:       opts.Metrics,
		StepUpMaxAge:  opts.StepUpMaxAge,
		Tracer:        opts.Tracer,
	}, s.Store)
	if err != nil {
		return nil, err
	}
	s.Hasher = svc.Hasher
	s.http = httptest.NewServer(svc.Handler)
	s.URL = s.http.URL
	return s, nil
}

// Close stops the server and deletes its database.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.http != nil {
			s.http.Close()
		}
		if s.Store != nil {
			err = s.Store.Close()
		}
		err = errors.Join(err, os.RemoveAll(s.dir))
	})
	return err
}
