package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
)

// suiteResult is one backend's run of the standard scenarios.
type suiteResult struct {
	Backend  string
	Results  []result
	Seed     time.Duration
	SeedNote string
	Skipped  string // why the backend did not run
	page     []byte // a list page as served, for the baseline
}

// argon2Cost is what password hashing alone allows on this machine.
type argon2Cost struct {
	Single   time.Duration // one hash, nothing else running
	Parallel float64       // hashes/s with one goroutine per core
}

// Bound is the login rate the hash alone allows: cores ÷ hash time.
func (c argon2Cost) Bound() float64 {
	if c.Single <= 0 {
		return 0
	}
	return float64(runtime.NumCPU()) / c.Single.Seconds()
}

func runStandard(ctx context.Context, cfg config) error {
	var cost argon2Cost
	if slices.Contains(cfg.scenarios, "login") {
		logf("measuring argon2id (%+v) alone", auth.DefaultArgon2Params())
		cost = measureArgon2()
		logf("argon2id: %.1f ms per hash; %d cores allow %.0f logins/s", ms(cost.Single), runtime.NumCPU(), cost.Bound())
	}
	ws, cleanup, err := newWorkspace(ctx, cfg.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	m := currentMachine(ws.root)
	runID := randomHex(3)

	// The baseline runs twice, before the bookstore's scenarios and after
	// them, and the ratios are to the mean of the two: this machine's speed
	// drifts by several percent over minutes, and that puts the drift on
	// both sides.
	var before result
	sqlite, err := runSuite(ctx, cfg, ws, "SQLite", filepath.Join(ws.dir, "bookstore.db"), runID, func(page []byte) error {
		var err error
		before, err = runBaseline(ctx, cfg, ws, page, "baseline, before")
		return err
	})
	if err != nil {
		return err
	}
	suites := []suiteResult{sqlite}
	switch u := os.Getenv("BOOKSTORE_DATABASE_URL"); {
	case isPostgresURL(u):
		pg, err := runSuite(ctx, cfg, ws, "PostgreSQL", u, runID, nil)
		if errors.Is(err, errBackendRefused) {
			logf("SKIPPING PostgreSQL: %v", err)
			pg = suiteResult{Backend: "PostgreSQL", Skipped: "the server did not start on BOOKSTORE_DATABASE_URL (PostgreSQL support missing or the database unreachable); see the run's output"}
		} else if err != nil {
			return err
		}
		suites = append(suites, pg)
	case u != "":
		logf("BOOKSTORE_DATABASE_URL is not a postgres:// URL: ignored (the SQLite run always uses a fresh file in a temp dir)")
	}

	after, err := runBaseline(ctx, cfg, ws, sqlite.page, "baseline, after")
	if err != nil {
		return err
	}
	baseRPS := (before.RPS + after.RPS) / 2
	before.Ratio, after.Ratio = before.RPS/baseRPS, after.RPS/baseRPS
	for i := range suites {
		for j := range suites[i].Results {
			suites[i].Results[j].Ratio = suites[i].Results[j].RPS / baseRPS
		}
	}
	rep := standardReport{Machine: m, Config: cfg, Suites: suites, Baselines: []result{before, after}, BaselineRPS: baseRPS, Argon2: cost}
	return publish(ws, cfg.out, sectionLatest, rep.markdown(), rep.historyLine())
}

// runSuite seeds a fresh server on databaseURL and runs the scenarios.
// between, when not nil, runs after seeding while no server runs, with the
// list page the server served.
func runSuite(ctx context.Context, cfg config, ws *workspace, backend, databaseURL, runID string, between func(page []byte) error) (suiteResult, error) {
	out := suiteResult{Backend: backend}
	logf("%s: starting the server", backend)
	srv, err := ws.startBookstore(ctx, databaseURL, cfg)
	if err != nil {
		if backend != "SQLite" {
			return out, fmt.Errorf("%w: %v", errBackendRefused, err)
		}
		return out, err
	}
	defer func() { srv.stop() }()

	users := make([]*user, cfg.users)
	for i := range users {
		users[i] = &user{
			name:     fmt.Sprintf("b%s_u%03d", runID, i),
			password: fmt.Sprintf("bench %s glacier umbrella %03d", runID, i),
		}
	}
	a := newAPI(srv.url(), newClient(cfg.conc))
	t0 := time.Now()
	if err := seedUsers(ctx, a, users, cfg.books); err != nil {
		return out, fmt.Errorf("%s: seed: %w", backend, err)
	}
	out.Seed = time.Since(t0)
	out.SeedNote = fmt.Sprintf("%d users registered and logged in over HTTP (%d at a time), %d books each created over HTTP",
		cfg.users, seedConc, cfg.books)
	logf("%s: seeded %d users × %d books in %.1f s", backend, cfg.users, cfg.books, out.Seed.Seconds())
	first, err := a.listPage(ctx, users[0].access, oapi.ListBooksParams{})
	if err != nil {
		return out, err
	}
	out.page = first.Body

	// A fresh process for the measurements: seeding ran 2 × users argon2id
	// hashes (19 MiB each), whose memory the runtime returns to the OS only
	// slowly, and would inflate every RSS figure after it.
	if err := srv.stop(); err != nil {
		return out, err
	}
	if between != nil {
		if err := between(out.page); err != nil {
			return out, err
		}
	}
	if srv, err = ws.startBookstore(ctx, databaseURL, cfg); err != nil {
		return out, err
	}
	a = newAPI(srv.url(), newClient(cfg.conc))
	scs := standardScenarios(ctx, a, users)
	byName := map[string][]result{}
	for rep := range cfg.repeat {
		if rep > 0 {
			// Every repeat on a fresh process too: the argon2id memory of
			// the last login must not count against the next list.
			if err := srv.stop(); err != nil {
				return out, err
			}
			if srv, err = ws.startBookstore(ctx, databaseURL, cfg); err != nil {
				return out, err
			}
			a = newAPI(srv.url(), newClient(cfg.conc))
			scs = standardScenarios(ctx, a, users)
		}
		for _, name := range cfg.scenarios {
			logf("%s: %s (run %d/%d): %d connections, %v warm-up + %v", backend, name, rep+1, cfg.repeat, cfg.conc, cfg.warmup, cfg.duration)
			profiled := profileWindow(ctx, cfg, srv, fmt.Sprintf("%s-%s-%d", backend, name, rep+1))
			r, err := drive(ctx, scs[name], cfg.conc, cfg.warmup, cfg.duration, srv.pid)
			if perr := profiled(); perr != nil {
				logf("    profile: %v", perr)
			}
			if err != nil {
				return out, fmt.Errorf("%s: %w", backend, err)
			}
			if !srv.alive() {
				return out, fmt.Errorf("%s: the server died during %s; the end of its log:\n%s", backend, name, tail(srv.logPath, 8))
			}
			logf("    %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, errors %d %s", r.RPS, ms(r.P50), ms(r.P99), r.Non2xx, r.Errors, r.FirstErr)
			byName[name] = append(byName[name], r)
		}
	}
	for _, name := range cfg.scenarios {
		out.Results = append(out.Results, medianResult(byName[name]))
	}
	return out, srv.stop()
}

// seedConc is how many registrations and logins run at once: the server
// hashes at most NumCPU passwords at a time, the rest queue.
const seedConc = 8

// seedUsers registers and logs in every user, then creates their books.
func seedUsers(ctx context.Context, a *api, users []*user, books int) error {
	err := forEach(ctx, len(users), seedConc, func(ctx context.Context, i int) error {
		u := users[i]
		if err := a.register(ctx, u); err != nil {
			return err
		}
		tp, err := a.login(ctx, u)
		u.access = tp.AccessToken
		return err
	})
	if err != nil {
		return err
	}
	return forEach(ctx, len(users), 16, func(ctx context.Context, i int) error {
		u := users[i]
		for n := range books {
			id, _, err := a.createBook(ctx, u.access, bookBody(i, n))
			if err != nil {
				return err
			}
			u.books = append(u.books, id)
		}
		return nil
	})
}

// runBaseline measures the bare server on the page the bookstore served.
func runBaseline(ctx context.Context, cfg config, ws *workspace, page []byte, name string) (result, error) {
	pageFile := filepath.Join(ws.dir, "page.json")
	if err := os.WriteFile(pageFile, page, 0o644); err != nil {
		return result{}, err
	}
	secret := randomHex(32) // 64 bytes of key
	addr, err := freeLoopbackAddr()
	if err != nil {
		return result{}, err
	}
	logf("%s: starting", name)
	srv, err := startServer(ctx, "baseline", ws.baseline, []string{"-addr", addr, "-page", pageFile},
		childEnv("BASELINE_JWT_SECRET="+secret), addr, filepath.Join(ws.dir, "baseline.log"))
	if err != nil {
		return result{}, err
	}
	defer srv.stop()
	tokens := make([]string, cfg.users)
	for i := range tokens {
		if tokens[i], err = baselineToken([]byte(secret)); err != nil {
			return result{}, err
		}
	}
	client := newClient(cfg.conc)
	sc := getScenario(name, "bare net/http: golang-jwt HS256 check + the same JSON page of 20 books; no database, validation or logging",
		client, 0, func(w int) ([]*http.Request, error) {
			req, err := newGet(ctx, srv.url()+"/books", tokens[w%len(tokens)])
			return []*http.Request{req}, err
		})
	sc.wrk = &wrkPlan{base: srv.url(), mode: "list", lines: tokens}
	var rs []result
	for rep := range cfg.repeat {
		logf("%s (run %d/%d): %d connections, %v warm-up + %v", name, rep+1, cfg.repeat, cfg.conc, cfg.warmup, cfg.duration)
		r, err := drive(ctx, sc, cfg.conc, cfg.warmup, cfg.duration, srv.pid)
		if err != nil {
			return result{}, err
		}
		if r.Non2xx+r.Errors > 0 {
			return result{}, fmt.Errorf("baseline answered %d non-2xx and %d errors (first: %s)", r.Non2xx, r.Errors, r.FirstErr)
		}
		logf("    %.0f req/s, p50 %.2f ms, p99 %.2f ms", r.RPS, ms(r.P50), ms(r.P99))
		rs = append(rs, r)
	}
	return medianResult(rs), srv.stop()
}

// baselineToken mints an access token shaped like the bookstore's.
func baselineToken(secret []byte) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": "bookstore", "aud": []string{"bookstore-api"},
		"sub": uuid.NewString(), "sid": uuid.NewString(), "jti": uuid.NewString(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = "hs256-baseline"
	return tok.SignedString(secret)
}

// measureArgon2 times the server's password hash alone: single hashes one
// after another, then one goroutine per core.
func measureArgon2() argon2Cost {
	p := auth.DefaultArgon2Params()
	pw, salt := []byte("plum tractor glacier umbrella"), make([]byte, p.SaltLength)
	hash := func() { argon2.IDKey(pw, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength) }
	hash() // warm
	var times []time.Duration
	for range 9 {
		t0 := time.Now()
		hash()
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	c := argon2Cost{Single: times[len(times)/2]}

	// Then one goroutine per core for two seconds: what the cores do when
	// every one of them hashes (they share caches and memory bandwidth).
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
	)
	t0 := time.Now()
	stop := t0.Add(2 * time.Second)
	for range runtime.NumCPU() {
		wg.Go(func() {
			n := 0
			for time.Now().Before(stop) {
				hash()
				n++
			}
			mu.Lock()
			count += n
			mu.Unlock()
		})
	}
	wg.Wait()
	c.Parallel = float64(count) / time.Since(t0).Seconds()
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
