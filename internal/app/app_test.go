package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/app"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/sqlite"
)

var cheapArgon2 = auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "bookstore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func config(log *slog.Logger) app.Config {
	return app.Config{Logger: log, Argon2: cheapArgon2, HashSlots: 2, JWTAlg: auth.AlgHS256, RefreshTTL: time.Hour}
}

// The assembly registers the spec's formats itself: nothing else in this
// test binary does, yet a UUIDv7 (which kin-openapi's default uuid format
// refuses) is a valid book id, and a malformed one is not.
func TestOpenServesTheAPIWithTheSpecsFormats(t *testing.T) {
	db := openSQLite(t)
	cfg := config(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	cfg.AdminUsername, cfg.AdminPassword = "root", "tangerine walrus under glass"
	svc, err := app.Open(t.Context(), cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := db.FindUserByUsername(t.Context(), "root"); err != nil || !u.Admin {
		t.Fatalf("the first admin: %+v, %v", u, err)
	}
	srv := httptest.NewServer(svc.Handler)
	defer srv.Close()
	res, err := http.Post(srv.URL+"/auth/login", "application/json", strings.NewReader(`{"username":"root","password":"tangerine walrus under glass"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tokens); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	res.Body.Close()
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get("/books/" + uuid.Must(uuid.NewV7()).String()); status != http.StatusNotFound {
		t.Errorf("a valid id of no book: %d %s, want 404", status, body)
	}
	// Without the formats, the generated binder would refuse the id as a
	// malformed request, not the validator as a field of the spec.
	if status, body := get("/books/not-a-uuid"); status != http.StatusBadRequest ||
		!strings.Contains(body, `"/problems/validation"`) || !strings.Contains(body, `"field":"path.id"`) {
		t.Errorf("a malformed id: %d %s, want 400 /problems/validation naming path.id", status, body)
	}
}

// A local store that cannot be prepared fails at once: here the first
// admin's password is one the policy refuses.
func TestOpenLocalFailsAtOnce(t *testing.T) {
	logs := &lines{}
	cfg := config(slog.New(slog.NewTextHandler(logs, nil)))
	cfg.AdminUsername, cfg.AdminPassword = "root", "short"
	_, err := app.Open(t.Context(), cfg, openSQLite(t))
	if err == nil || !strings.Contains(err.Error(), app.EnvAdminPassword) {
		t.Fatalf("Open = %v, want the refused admin password", err)
	}
	if logs.count("retrying") != 0 {
		t.Errorf("a local store was retried:\n%s", logs)
	}
}

// A remote store that does not answer is tried again, with backoff, until
// the context ends.
func TestOpenRemoteRetriesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	db, err := postgres.Open(t.Context(), "postgres://postgres@"+addr+"/none?sslmode=disable", postgres.WithConnectTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := &lines{retries: make(chan struct{}, 100)}
	cfg := config(slog.New(slog.NewTextHandler(logs, nil)))
	cfg.StartRetryMax = time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := app.Open(ctx, cfg, db)
		done <- err
	}()
	for range 3 {
		<-logs.retries
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want it cancelled", err)
	}
}

// lines is a log destination that counts retries.
type lines struct {
	mu      sync.Mutex
	b       strings.Builder
	retries chan struct{}
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.retries != nil && strings.Contains(string(p), "retrying") {
		select {
		case l.retries <- struct{}{}:
		default: // enough counted
		}
	}
	return l.b.Write(p)
}

func (l *lines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
