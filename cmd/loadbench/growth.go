package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite" // the bulk seeding writes the SQLite file directly

	"github.com/bookstore/bookstore/internal/auth"
)

// Growth mode. The database grows in two steps, with the server stopped
// while rows are bulk-inserted straight into the SQLite file (over HTTP a
// million creates would take minutes):
//
//	small: growthLoadUsers users × growthBooks books (1,000 books)
//	large: + (growthUsers − growthLoadUsers) users × growthBooks books,
//	       + one user with growthBig books (1,100,000 books by default)
//
// The users the load acts as (and the big user) register and log in over
// HTTP, so their passwords and sessions are real; the bulk users get a
// well-formed argon2id hash nobody can log in with.

const (
	growthLoadUsers = 10
	qCommon         = "lighthouse" // one title noun in 64: about 1.6 % of books
	qNone           = "zyzzyva"    // in no title or author
)

type growthPhase struct {
	Label   string
	Books   int
	Users   int
	Results []result
	Seed    time.Duration
	Rows    int
}

func runGrowth(ctx context.Context, cfg config) error {
	if cfg.growthUsers < growthLoadUsers || cfg.growthBooks < 21 || cfg.growthBig < 10000 {
		return fmt.Errorf("growth mode needs -growth-users ≥ %d, -growth-books ≥ 21 and -growth-big ≥ 10000", growthLoadUsers)
	}
	ws, cleanup, err := newWorkspace(ctx, cfg.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	m := currentMachine(ws.root)
	runID := randomHex(3)
	dbPath := filepath.Join(ws.dir, "bookstore.db")

	srv, err := ws.startBookstore(ctx, dbPath, cfg)
	if err != nil {
		return err
	}
	users := make([]*user, growthLoadUsers+1) // the last one is the big user
	for i := range users {
		users[i] = &user{name: fmt.Sprintf("g%s_u%02d", runID, i), password: fmt.Sprintf("growth %s glacier umbrella %02d", runID, i)}
	}
	big := users[growthLoadUsers]
	big.name = "g" + runID + "_big"
	a := newAPI(srv.url(), newClient(cfg.conc))
	logf("growth: registering %d users over HTTP", len(users))
	if err := seedUsers(ctx, a, users, 0); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		return err
	}
	loadUsers := users[:growthLoadUsers]

	// Small.
	small := growthPhase{Label: "small", Users: len(users), Books: growthLoadUsers * cfg.growthBooks}
	t0 := time.Now()
	seeder := newBulkSeeder(runID)
	if err := seeder.run(ctx, dbPath, func(s *bulkSession) error {
		for _, u := range loadUsers {
			ids, err := s.books(u.id, cfg.growthBooks)
			if err != nil {
				return err
			}
			u.books = ids
		}
		return nil
	}); err != nil {
		return err
	}
	small.Seed, small.Rows = time.Since(t0), seeder.rows
	logf("growth: small database: %d books (bulk insert %.1f s)", small.Books, small.Seed.Seconds())
	if small.Results, err = growthMeasure(ctx, cfg, ws, dbPath, loadUsers, loadUsers[0], false); err != nil {
		return err
	}

	// Large.
	large := growthPhase{Label: "large", Users: cfg.growthUsers + 1,
		Books: cfg.growthUsers*cfg.growthBooks + cfg.growthBig}
	logf("growth: bulk-inserting %d users and %d books into the SQLite file", cfg.growthUsers-growthLoadUsers, large.Books-small.Books)
	t0 = time.Now()
	seeder.rows = 0
	if err := seeder.run(ctx, dbPath, func(s *bulkSession) error {
		if _, err := s.books(big.id, cfg.growthBig); err != nil {
			return err
		}
		for i := growthLoadUsers; i < cfg.growthUsers; i++ {
			id, err := s.user(i)
			if err != nil {
				return err
			}
			if _, err := s.books(id, cfg.growthBooks); err != nil {
				return err
			}
			if i%1000 == 0 {
				logf("    %d users, %d rows so far", i, seeder.rows)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	large.Seed, large.Rows = time.Since(t0), seeder.rows
	logf("growth: large database: %d books (bulk insert of %d rows in %.1f s, %.0f rows/s)",
		large.Books, large.Rows, large.Seed.Seconds(), float64(large.Rows)/large.Seed.Seconds())
	if large.Results, err = growthMeasure(ctx, cfg, ws, dbPath, loadUsers, big, true); err != nil {
		return err
	}

	rep := growthReport{Machine: m, Config: cfg, Small: small, Large: large}
	return publish(ws, cfg.out, sectionGrowth, rep.markdown(), rep.historyLine())
}

// growthMeasure starts the server on the database as it now is and runs
// the growth scenarios. qUser is whose books q searches; deep adds the
// deep-cursor pair (on qUser, the big user).
func growthMeasure(ctx context.Context, cfg config, ws *workspace, dbPath string, loadUsers []*user, qUser *user, deep bool) ([]result, error) {
	srv, err := ws.startBookstore(ctx, dbPath, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := waitIndexed(ctx, dbPath); err != nil {
		return nil, err
	}
	a := newAPI(srv.url(), newClient(cfg.conc))
	base := a.base
	userOf := func(w int) *user { return loadUsers[w%len(loadUsers)] }
	one := func(path string) func(int) ([]*http.Request, error) {
		return func(int) ([]*http.Request, error) {
			req, err := newGet(ctx, base+path, qUser.access)
			return []*http.Request{req}, err
		}
	}
	scs := []scenario{
		getScenario("list", "GET /books: first page (20) of a load user's books", a.client, 0, func(w int) ([]*http.Request, error) {
			req, err := newGet(ctx, base+"/books", userOf(w).access)
			return []*http.Request{req}, err
		}),
		getScenario("get", "GET /books/{id}: a load user's books in turn", a.client, 0, func(w int) ([]*http.Request, error) {
			u := userOf(w)
			var reqs []*http.Request
			for _, id := range u.books {
				req, err := newGet(ctx, base+"/books/"+id, u.access)
				if err != nil {
					return nil, err
				}
				reqs = append(reqs, req)
			}
			return reqs, nil
		}),
		getScenario("q common", fmt.Sprintf("GET /books?q=%s (≈1.6 %% of titles) over one user's books, 1 connection", qCommon), a.client, 1, one("/books?q="+qCommon)),
		getScenario("q no match", fmt.Sprintf("GET /books?q=%s (matches nothing: every book of the user is read), 1 connection", qNone), a.client, 1, one("/books?q="+qNone)),
	}
	if deep {
		const pageN = 500
		logf("growth: following next_cursor to page %d of the big user's books", pageN)
		cursor, err := a.cursorAt(ctx, qUser.access, 20, pageN)
		if err != nil {
			return nil, err
		}
		scs = append(scs,
			getScenario("page 1", "GET /books?limit=20: first page of the big user's books, 1 connection", a.client, 1, one("/books?limit=20")),
			getScenario("page 500", "GET /books?limit=20&cursor=…: page 500 of the big user's books, 1 connection", a.client, 1,
				one("/books?limit=20&cursor="+url.QueryEscape(cursor))),
		)
	}
	var out []result
	for _, sc := range scs {
		var rs []result
		for rep := range cfg.repeat {
			logf("growth: %s (run %d/%d)", sc.name, rep+1, cfg.repeat)
			r, err := drive(ctx, sc, cfg.conc, cfg.warmup, cfg.duration, srv.pid)
			if err != nil {
				return nil, err
			}
			if !srv.alive() {
				return nil, fmt.Errorf("the server died during %s; the end of its log:\n%s", sc.name, tail(srv.logPath, 8))
			}
			logf("    %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, errors %d %s", r.RPS, ms(r.P50), ms(r.P99), r.Non2xx, r.Errors, r.FirstErr)
			rs = append(rs, r)
		}
		out = append(out, medianResult(rs))
	}
	return out, srv.stop()
}

// bulkSeeder inserts users and books with prepared multi-row INSERTs in
// large transactions, on its own connection to the SQLite file.
type bulkSeeder struct {
	runID string
	rnd   *rand.Rand
	clock time.Time // created_at of the next book; one minute apart
	rows  int
}

func newBulkSeeder(runID string) *bulkSeeder {
	return &bulkSeeder{runID: runID, rnd: rand.New(rand.NewPCG(1, 2)), clock: time.Now().Add(-5 * 365 * 24 * time.Hour)}
}

type bulkSession struct {
	s        *bulkSeeder
	ctx      context.Context
	db       *sql.DB
	tx       *sql.Tx
	bookStmt *sql.Stmt
	inTx     int
	pending  []any // parameters of up to bookBatch rows
}

const (
	bookBatch = 100    // rows per INSERT statement
	txRows    = 200000 // rows per transaction
)

// The bulk load is not crash-safe (synchronous OFF, no fsync) and does not
// need to be: a failed run is thrown away.
func (b *bulkSeeder) run(ctx context.Context, path string, fn func(*bulkSession) error) error {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)" +
		"&_pragma=cache_size(-262144)&_pragma=temp_store(MEMORY)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	s := &bulkSession{s: b, ctx: ctx, db: db}
	if err := s.begin(); err != nil {
		return err
	}
	if err := fn(s); err != nil {
		s.tx.Rollback()
		return err
	}
	if err := s.flush(); err != nil {
		s.tx.Rollback()
		return err
	}
	if err := s.tx.Commit(); err != nil {
		return err
	}
	// Fold the WAL into the file, as the server's Close does, so the
	// server starts on a plain database file.
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

func (s *bulkSession) begin() error {
	var err error
	if s.tx, err = s.db.BeginTx(s.ctx, nil); err != nil {
		return err
	}
	q := "INSERT INTO books (id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, NULL, ?, 1, ?, ?), ", bookBatch), ", ")
	s.bookStmt, err = s.tx.PrepareContext(s.ctx, q)
	return err
}

func (s *bulkSession) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	const perRow = 9
	if len(s.pending) == bookBatch*perRow {
		_, err := s.bookStmt.ExecContext(s.ctx, s.pending...)
		s.pending = s.pending[:0]
		return err
	}
	n := len(s.pending) / perRow
	q := "INSERT INTO books (id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, NULL, ?, 1, ?, ?), ", n), ", ")
	_, err := s.tx.ExecContext(s.ctx, q, s.pending...)
	s.pending = s.pending[:0]
	return err
}

// rowDone commits every txRows rows.
func (s *bulkSession) rowDone() error {
	s.s.rows++
	s.inTx++
	if s.inTx < txRows {
		return nil
	}
	s.inTx = 0
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.tx.Commit(); err != nil {
		return err
	}
	return s.begin()
}

// bulkPasswordHash is a well-formed argon2id PHC string of a random
// password nobody knows, made once per run.
var bulkPasswordHash = sync.OnceValue(func() string {
	p := auth.DefaultArgon2Params()
	salt := make([]byte, p.SaltLength)
	crand.Read(salt)
	key := argon2.IDKey([]byte(randomHex(16)), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		enc.EncodeToString(salt), enc.EncodeToString(key))
})

func (s *bulkSession) user(i int) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	created := s.s.clock.UnixMilli()
	_, err := s.tx.ExecContext(s.ctx, "INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (?, ?, ?, 0, ?)",
		id, "g"+s.s.runID+"_bulk"+strconv.Itoa(i), bulkPasswordHash(), created)
	if err != nil {
		return "", err
	}
	return id, s.rowDone()
}

var (
	titleAdjectives = strings.Fields("Silent Crimson Hidden Broken Golden Distant Frozen Burning Quiet Wild Lost Last Secret Hollow Endless Bright " +
		"Dark Ancient Restless Gentle Savage Bitter Silver Iron Glass Paper Winter Summer Northern Southern Little Great")
	titleNouns = strings.Fields("River Garden Empire Mirror Harbor Forest Kingdom Station Library Island Orchard Signal Lantern Compass Circus Archive " +
		"Voyage Tower Meadow Canyon Engine Letter Season Machine Frontier Citadel Shadow Horizon Covenant Labyrinth Cathedral Monsoon " +
		"Glacier Prairie Lighthouse Carnival Observatory Bazaar Atlas Theorem Chronicle Sonata Requiem Almanac Ledger Tapestry Mosaic Odyssey " +
		"Paradox Vineyard Foundry Quarry Delta Estuary Tundra Savanna Fjord Volcano Reef Oasis Steppe Bayou Mesa Marsh")
	firstNames = strings.Fields("Ada Alan Grace Edsger Barbara Donald Frances Ken Dennis Margaret Niklaus Tony Leslie Butler John Radia " +
		"Shafi Silvio Whitfield Martin Adele Jean Robin Fran Ivan Judea Yann Geoffrey Joshua Peter Ole Kristen")
	lastNames = strings.Fields("Lovelace Turing Hopper Dijkstra Liskov Knuth Allen Thompson Ritchie Hamilton Wirth Hoare Lamport Lampson " +
		"Backus Perlman Goldwasser Micali Diffie Hellman Goldberg Sammet Milner Corbato Sutherland Pearl LeCun Hinton Bloch Naur Dahl Nygaard")
	publishers = []string{"Loopback Press", "Keyset House", "Index & Sons", "WAL Books", "B-Tree Editions", "Cursor Publishing", "Page Cache Ltd", "Argon Press"}
)

// books inserts n books for owner and returns their ids.
func (s *bulkSession) books(owner string, n int) ([]string, error) {
	if owner == "" {
		return nil, fmt.Errorf("bulk books: no owner id")
	}
	r := s.s.rnd
	ids := make([]string, 0, n)
	for range n {
		id := uuid.Must(uuid.NewV7()).String()
		s.s.clock = s.s.clock.Add(time.Minute)
		created := s.s.clock.UnixMilli()
		title := "The " + titleAdjectives[r.IntN(len(titleAdjectives))] + " " + titleNouns[r.IntN(len(titleNouns))]
		if r.IntN(4) == 0 {
			title += " Vol. " + strconv.Itoa(1+r.IntN(9))
		}
		author := firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
		s.pending = append(s.pending, id, owner, title, author, publishers[r.IntN(len(publishers))],
			int64(100+r.IntN(9900)), int64(1900+r.IntN(126)), created, created)
		if len(s.pending) == bookBatch*9 {
			if err := s.flush(); err != nil {
				return nil, err
			}
		}
		ids = append(ids, id)
		if err := s.rowDone(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

type growthReport struct {
	Machine      machine
	Config       config
	Small, Large growthPhase
}

func (g growthReport) markdown() string {
	var b strings.Builder
	cfg := g.Config
	fmt.Fprintf(&b, "## Latest run of `make bench-growth` (%s)\n\n", g.Machine.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s.\n\n", g.Machine)
	fmt.Fprintf(&b, "Data: **small** = %d users × %d books = %s books. **large** = %s users × %d books plus one user with %s books = %s books. "+
		"The %d load users and the big user registered and logged in over HTTP; every other row was bulk-inserted straight into the SQLite file "+
		"with prepared %d-row INSERTs in transactions of %s rows while the server was stopped (large step: %s rows in %.1f s, %s rows/s, "+
		"all indexes of the schema maintained); no ANALYZE was run, as the server runs none. "+
		"list and get use %d connections; q and the cursor pages 1 connection (their latency is the query's, not a queue's). "+
		"%v warm-up + %v per scenario; the server is restarted on the grown file.\n\n",
		growthLoadUsers, cfg.growthBooks, thousands(float64(g.Small.Books)),
		thousands(float64(cfg.growthUsers)), cfg.growthBooks, thousands(float64(cfg.growthBig)), thousands(float64(g.Large.Books)),
		growthLoadUsers, bookBatch, thousands(txRows), thousands(float64(g.Large.Rows)), g.Large.Seed.Seconds(),
		thousands(float64(g.Large.Rows)/g.Large.Seed.Seconds()), cfg.conc, cfg.warmup, cfg.duration)
	b.WriteString("| scenario | books in database | conc | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req | server cores | other cores | RSS at end MiB |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, ph := range []growthPhase{g.Small, g.Large} {
		for _, r := range ph.Results {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %d | %s | %.2f | %.2f | %s |\n", r.Name, thousands(float64(ph.Books)), r.Conc,
				thousands(r.RPS), msec(r.P50), msec(r.P99), r.Non2xx+r.Errors, usec(r.ServerCPU), r.ServerCores, r.OtherCores, mib(r.EndRSS))
		}
	}
	b.WriteString("\nq searches one load user's " + strconv.Itoa(cfg.growthBooks) + " books in the small database and the big user's " +
		thousands(float64(cfg.growthBig)) + " books in the large one.\n\n")
	b.WriteString("### Targets (issue 6)\n\n| target | measured | |\n|---|---|---|\n")
	for _, name := range []string{"list", "get"} {
		s, ok1 := findResult(g.Small.Results, name)
		l, ok2 := findResult(g.Large.Results, name)
		if ok1 && ok2 && s.P50 > 0 {
			ratio := float64(l.P50) / float64(s.P50)
			cpu := ""
			if s.ServerCPU > 0 {
				cpu = fmt.Sprintf("; server CPU %s vs %s µs/req = %.2f ×", usec(l.ServerCPU), usec(s.ServerCPU), float64(l.ServerCPU)/float64(s.ServerCPU))
			}
			fmt.Fprintf(&b, "| %s p50 at %s books ≤ 1.5 × p50 at %s | %s ms vs %s ms = %.2f ×%s | %s |\n", name,
				thousands(float64(g.Large.Books)), thousands(float64(g.Small.Books)), msec(l.P50), msec(s.P50), ratio, cpu, yesNo(ratio <= 1.5))
		}
	}
	for _, name := range []string{"q common", "q no match"} {
		if r, ok := findResult(g.Large.Results, name); ok {
			fmt.Fprintf(&b, "| %s over %s books ≤ 50 ms p50 | %s ms | %s |\n", name, thousands(float64(cfg.growthBig)), msec(r.P50), yesNo(r.P50 <= 50*time.Millisecond))
		}
	}
	p1, ok1 := findResult(g.Large.Results, "page 1")
	p500, ok2 := findResult(g.Large.Results, "page 500")
	if ok1 && ok2 && p1.P50 > 0 {
		ratio := float64(p500.P50) / float64(p1.P50)
		fmt.Fprintf(&b, "| a deep cursor page costs what the first does | page 500 %s ms vs page 1 %s ms = %.2f × | %s |\n",
			msec(p500.P50), msec(p1.P50), ratio, yesNo(ratio <= 1.5))
	}
	return b.String()
}

func (g growthReport) historyLine() string {
	var parts []string
	for _, ph := range []growthPhase{g.Small, g.Large} {
		for _, r := range ph.Results {
			parts = append(parts, fmt.Sprintf("%s@%s p50 %s ms", r.Name, thousands(float64(ph.Books)), msec(r.P50)))
		}
	}
	commit := g.Machine.Commit
	if commit == "" {
		commit = "no commit"
	}
	return fmt.Sprintf("- %s, %s, growth: %s", g.Machine.Date.Format("2006-01-02 15:04 MST"), commit, strings.Join(parts, "; "))
}

// waitIndexed waits until the server has moved every bulk-inserted book
// from books_search_pending into the search index (the writer does it in
// rounds after start; a search meanwhile also reads the pending books, so
// q would measure that), and says how long it took.
func waitIndexed(ctx context.Context, dbPath string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	t0 := time.Now()
	for {
		var pending int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM books_search_pending").Scan(&pending); err != nil {
			return fmt.Errorf("count the books waiting for the search index: %w", err)
		}
		if pending == 0 {
			logf("growth: the server indexed the new books for search in %.1f s", time.Since(t0).Seconds())
			return nil
		}
		if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("%d books still wait for the search index after 10 minutes", pending)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
