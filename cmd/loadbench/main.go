// Command loadbench is `make bench`: it builds the bookstore server and the
// baseline (cmd/baseline), starts each as its own process on a
// free 127.0.0.1 port, seeds the bookstore over HTTP, drives every scenario
// at a fixed concurrency and reports requests/s, latency, errors, the
// server's CPU per request and memory, each next to the baseline's
// requests/s. Results go to stdout and to BENCHMARKS.md.
//
// With -growth it measures how the read paths cost as the database grows to
// a million books instead (make bench-growth).
//
// The load generator and the server share the machine's cores: the
// client's own CPU per request is reported so its share can be seen. It
// only ever connects to loopback addresses, every loop is bounded by the
// clock, and it stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	duration, warmup time.Duration
	conc             int
	users, books     int
	repeat           int
	scenarios        []string
	out              string
	logLevel         string
	keep             bool
	profileDir       string // -profile: CPU profiles of the server, one per measured window

	growth                   bool
	growthUsers, growthBooks int // books per user
	growthBig                int // books of the one big user
}

var allScenarios = []string{"list", "get", "create", "update", "login", "refresh"}

func main() {
	var cfg config
	var scenarios string
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per scenario")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	flag.IntVar(&cfg.conc, "c", 32, "concurrent connections (one worker each)")
	flag.IntVar(&cfg.users, "users", 50, "users to seed")
	flag.IntVar(&cfg.books, "books", 20, "books per seeded user")
	flag.IntVar(&cfg.repeat, "repeat", 1, "run every scenario this many times and report the median by requests/s (e.g. -repeat 3)")
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", `file to record the results in ("" for none)`)
	flag.StringVar(&cfg.logLevel, "log-level", "info", "the server's BOOKSTORE_LOG_LEVEL (its log goes to a file in the temp dir)")
	flag.DurationVar(&quietWait, "quiet-wait", 30*time.Second, "before each scenario, wait up to this long for other processes to use < 0.2 cores (0: don't)")
	var driver string
	flag.StringVar(&driver, "driver", "wrk", "load generator of list, get, create, login and the baseline: wrk (needs wrk on PATH) or go (the Go client); update, refresh and -growth always use the Go client")
	flag.IntVar(&wrkThreads, "wrk-threads", 2, "wrk's threads (-t)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp dir (database, logs) and print its path")
	flag.StringVar(&cfg.profileDir, "profile", "", "write a CPU profile of the server during each measured window to this directory (BACKEND-SCENARIO-RUN.pprof; the server runs with BOOKSTORE_DEBUG_ADDR)")
	flag.BoolVar(&cfg.growth, "growth", false, "growth mode: list, get and q at 1,000 and at 1,000,000 books")
	flag.IntVar(&cfg.growthUsers, "growth-users", 10000, "growth mode: users holding the bulk of the books")
	flag.IntVar(&cfg.growthBooks, "growth-books", 100, "growth mode: books per user")
	flag.IntVar(&cfg.growthBig, "growth-big", 100000, "growth mode: books of the one big user")
	flag.Parse()
	switch driver {
	case "wrk":
		useWrk = true
		if _, err := exec.LookPath("wrk"); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench: wrk is not installed (Debian: apt-get install -y wrk; make bench does this as root), or run with -driver go")
			os.Exit(2)
		}
	case "go":
	default:
		fmt.Fprintf(os.Stderr, "loadbench: -driver %q: want wrk or go\n", driver)
		os.Exit(2)
	}
	cfg.scenarios = strings.Split(scenarios, ",")
	for _, s := range cfg.scenarios {
		if !slices.Contains(allScenarios, s) {
			fmt.Fprintf(os.Stderr, "loadbench: unknown scenario %q (have %s)\n", s, strings.Join(allScenarios, ", "))
			os.Exit(2)
		}
	}
	if cfg.conc < 1 || cfg.users < 1 || cfg.books < 1 || cfg.repeat < 1 || cfg.duration <= 0 || cfg.warmup < 0 {
		fmt.Fprintln(os.Stderr, "loadbench: -c, -users, -books, -repeat and -duration must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if cfg.growth {
		err = runGrowth(ctx, cfg)
	} else {
		err = runStandard(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// workspace is the temp dir with the two binaries built from the module.
type workspace struct {
	root     string // module root
	dir      string
	server   string
	baseline string
}

func newWorkspace(ctx context.Context, keep bool) (*workspace, func(), error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return nil, nil, errors.New("run loadbench from inside the bookstore module")
	}
	dir, err := os.MkdirTemp("", "bookstore-bench-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if keep {
			logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	}
	ws := &workspace{root: filepath.Dir(gomod), dir: dir,
		server: filepath.Join(dir, "bookstore"), baseline: filepath.Join(dir, "baseline")}
	wrkScript = wrkPath(ws.root)
	for _, b := range []struct{ out, pkg string }{{ws.server, "./cmd/bookstore"}, {ws.baseline, "./cmd/baseline"}} {
		logf("go build -o %s %s", b.out, b.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = ws.root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return ws, cleanup, nil
}

// outPath resolves -out: relative to the module root.
func (ws *workspace) outPath(out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(ws.root, out)
}

// startBookstore starts the server on a new free port with databaseURL.
// With -profile, it also opens the profiler's listener (BOOKSTORE_DEBUG_ADDR)
// on another free port.
func (ws *workspace) startBookstore(ctx context.Context, databaseURL string, cfg config) (*server, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	env := childEnv(
		"BOOKSTORE_ADDR="+addr,
		"BOOKSTORE_DATABASE_URL="+databaseURL,
		"BOOKSTORE_THROTTLE=off",
		"BOOKSTORE_ACCESS_TTL=2h", // tokens outlive the longest run
		"BOOKSTORE_LOG_LEVEL="+cfg.logLevel,
	)
	var debugAddr string
	if cfg.profileDir != "" {
		if debugAddr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		env = append(env, "BOOKSTORE_DEBUG_ADDR="+debugAddr)
	}
	srv, err := startServer(ctx, "bookstore", ws.server, []string{"serve"}, env, addr, filepath.Join(ws.dir, "bookstore.log"))
	if srv != nil {
		srv.debugAddr = debugAddr
	}
	return srv, err
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// errBackendRefused marks a server that would not start on a database URL.
var errBackendRefused = errors.New("the server refused the database URL")

func currentMachine(root string) machine {
	return machine{
		CPU:     cpuModel(),
		Cores:   runtime.NumCPU(),
		Kernel:  kernelRelease(),
		Go:      runtime.Version(),
		Date:    time.Now().UTC(),
		Commit:  gitCommit(root),
		MemInfo: memTotal(),
	}
}
