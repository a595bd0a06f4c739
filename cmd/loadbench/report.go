package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// BENCHMARKS.md has hand-written parts and three generated sections between
// markers: the latest standard run, the latest growth run, and a short
// history (one line per run, newest first, capped). Only those sections
// are rewritten.
const (
	sectionLatest  = "latest"
	sectionGrowth  = "growth"
	sectionHistory = "history"
	historyMax     = 12
)

func beginMarker(s string) string { return "<!-- loadbench:" + s + ":begin -->" }
func endMarker(s string) string   { return "<!-- loadbench:" + s + ":end -->" }

const benchmarksTemplate = `# Benchmarks

How fast the API is on one machine, next to a bare net/http server that does
the least the list endpoint must do (check an HS256 token, write the same
JSON page). The sections between ` + "`loadbench`" + ` markers are rewritten by
` + "`make bench`" + ` and ` + "`make bench-growth`" + `; everything else is written by hand.

<!-- loadbench:latest:begin -->
<!-- loadbench:latest:end -->

<!-- loadbench:growth:begin -->
<!-- loadbench:growth:end -->

## History

<!-- loadbench:history:begin -->
<!-- loadbench:history:end -->
`

// publish prints a report's text and, unless -out is "", writes it into
// its section of the benchmarks file with its history line.
func publish(ws *workspace, out, section, text, historyLine string) error {
	fmt.Println()
	fmt.Println(text)
	if out == "" {
		return nil
	}
	if err := updateBenchmarksFile(ws.outPath(out), section, text, historyLine); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// updateBenchmarksFile replaces section with text and prepends historyLine
// to the history.
func updateBenchmarksFile(path, section, text, historyLine string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		b, err = []byte(benchmarksTemplate), nil
	}
	if err != nil {
		return err
	}
	doc := string(b)
	doc = replaceSection(doc, section, strings.TrimSpace(text))
	var hist []string
	if old, ok := sectionBody(doc, sectionHistory); ok {
		for _, line := range strings.Split(old, "\n") {
			if strings.HasPrefix(line, "- ") {
				hist = append(hist, line)
			}
		}
	}
	hist = append([]string{historyLine}, hist...)
	if len(hist) > historyMax {
		hist = hist[:historyMax]
	}
	doc = replaceSection(doc, sectionHistory, strings.Join(hist, "\n"))
	return os.WriteFile(path, []byte(doc), 0o644)
}

func sectionBody(doc, section string) (string, bool) {
	begin, end := beginMarker(section), endMarker(section)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", false
	}
	return doc[i+len(begin) : j], true
}

// replaceSection puts body between the section's markers, appending the
// section to the document when it has none.
func replaceSection(doc, section, body string) string {
	begin, end := beginMarker(section), endMarker(section)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + begin + "\n" + body + "\n" + end + "\n"
	}
	return doc[:i+len(begin)] + "\n" + body + "\n" + doc[j:]
}

func (m machine) String() string {
	s := fmt.Sprintf("%s, %d cores", m.CPU, m.Cores)
	if m.MemInfo != "" {
		s += ", " + m.MemInfo
	}
	s += fmt.Sprintf(", Linux %s, %s", m.Kernel, m.Go)
	if m.Commit != "" {
		s += ", commit " + m.Commit
	}
	return s
}

func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

func usec(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
}

func msec(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f", ms(d))
	default:
		return fmt.Sprintf("%.1f", ms(d))
	}
}

// thousands formats n with thin separators: 12,345.
func thousands(f float64) string {
	n := int64(f + 0.5)
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pct(f float64) string { return fmt.Sprintf("%.0f %%", 100*f) }

func yesNo(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

const resultHeader = "| scenario | conc | req/s | × baseline | p50 ms | p99 ms | non-2xx | errors | server CPU µs/req | server cores | client CPU µs/req | other cores | peak RSS MiB | RSS at end MiB |\n" +
	"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"

func resultRow(label string, r result) string {
	ratio := "–"
	if r.Ratio > 0 {
		ratio = pct(r.Ratio)
	}
	peak := mib(r.PeakRSS)
	if !r.PeakExact && r.PeakRSS > 0 {
		peak += "*"
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %d | %d | %s | %.2f | %s | %.2f | %s | %s |\n",
		label, r.Conc, thousands(r.RPS), ratio, msec(r.P50), msec(r.P99), r.Non2xx, r.Errors,
		usec(r.ServerCPU), r.ServerCores, usec(r.ClientCPU), r.OtherCores, peak, mib(r.EndRSS))
}

type standardReport struct {
	Machine     machine
	Config      config
	Suites      []suiteResult
	Baselines   []result // before and after the bookstore's scenarios
	BaselineRPS float64  // their mean: what ratios are to
	Argon2      argon2Cost
}

// findResult is the result of the scenario named name in rs.
func findResult(rs []result, name string) (result, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return result{}, false
}

func (s standardReport) find(backend, name string) (result, bool) {
	for _, su := range s.Suites {
		if su.Backend == backend {
			return findResult(su.Results, name)
		}
	}
	return result{}, false
}

func (s standardReport) markdown() string {
	var b strings.Builder
	cfg := s.Config
	fmt.Fprintf(&b, "## Latest run of `make bench` (%s)\n\n", s.Machine.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s.\n\n", s.Machine)
	runs := "1 run"
	if cfg.repeat > 1 {
		runs = fmt.Sprintf("median of %d runs (by req/s)", cfg.repeat)
	}
	generator := "the Go net/http client of `cmd/loadbench`, one worker per connection"
	if useWrk {
		generator = fmt.Sprintf("`wrk -t%d -c%d` with `cmd/loadbench/bench.lua` for the rows marked (wrk) below, "+
			"the Go net/http client of `cmd/loadbench` for the others (update and refresh follow a chain of responses)", wrkThreads, cfg.conc)
	}
	fmt.Fprintf(&b, "Load: %d keep-alive connections, %v warm-up + %v measured per scenario, %s. "+
		"The load generator (%s) runs on the same %d cores as the server: "+
		"its own CPU per request is the *client CPU* column, and the server can use at most what is left. "+
		"Server: `bookstore serve`, BOOKSTORE_THROTTLE=off, one JSON log line per request (level %s) to a file, "+
		"restarted after seeding so the argon2id memory of seeding does not count. "+
		"Peak RSS is the kernel's VmHWM, reset at the start of each measured window (`/proc/PID/clear_refs`); "+
		"a * marks a sampled maximum of VmRSS where the reset was refused. "+
		"*Other cores* is what every other process on the machine used meanwhile (from /proc/stat): "+
		"anything well above 0 means the figures of that row are low.\n\n",
		cfg.conc, cfg.warmup, cfg.duration, runs, generator, runtime.NumCPU(), cfg.logLevel)
	b.WriteString(resultHeader)
	for _, r := range s.Baselines {
		b.WriteString(resultRow(r.Name, r))
	}
	for _, su := range s.Suites {
		for _, r := range su.Results {
			b.WriteString(resultRow(su.Backend+": "+r.Name, r))
		}
	}
	b.WriteString("\n")
	for _, su := range s.Suites {
		if su.Skipped != "" {
			fmt.Fprintf(&b, "%s: skipped — %s.\n\n", su.Backend, su.Skipped)
			continue
		}
		fmt.Fprintf(&b, "%s seeding: %s, in %.1f s.\n\n", su.Backend, su.SeedNote, su.Seed.Seconds())
	}
	b.WriteString("Scenarios:\n\n")
	if len(s.Baselines) > 0 {
		fmt.Fprintf(&b, "- **baseline**: %s. It runs before the bookstore's scenarios and after them; "+
			"× baseline is to the mean of the two, %s/s.\n", s.Baselines[0].Note, thousands(s.BaselineRPS))
	}
	if len(s.Suites) > 0 {
		for _, r := range s.Suites[0].Results {
			fmt.Fprintf(&b, "- **%s**: %s.\n", r.Name, r.Note)
		}
	}
	b.WriteString("\n")
	b.WriteString(s.targets())
	return b.String()
}

func (s standardReport) targets() string {
	var b strings.Builder
	b.WriteString("### Targets (issue 14)\n\n| target | measured | |\n|---|---|---|\n")
	if r, ok := s.find("SQLite", "list"); ok {
		fmt.Fprintf(&b, "| list ≥ 30 %% of baseline req/s | %s (%s of %s) | %s |\n", pct(r.Ratio), thousands(r.RPS), thousands(s.BaselineRPS), yesNo(r.Ratio >= 0.30))
		fmt.Fprintf(&b, "| peak RSS under list load ≤ 64 MiB | %s MiB | %s |\n", mib(r.PeakRSS), yesNo(r.PeakRSS > 0 && r.PeakRSS <= 64<<20))
	}
	if r, ok := s.find("SQLite", "get"); ok {
		fmt.Fprintf(&b, "| get ≥ 45 %% of baseline req/s | %s (%s) | %s |\n", pct(r.Ratio), thousands(r.RPS), yesNo(r.Ratio >= 0.45))
	}
	if r, ok := s.find("SQLite", "create"); ok {
		fmt.Fprintf(&b, "| create ≥ 8,000/s on SQLite (WAL, synchronous=NORMAL) | %s/s | %s |\n", thousands(r.RPS), yesNo(r.RPS >= 8000))
	}
	for _, name := range []string{"list", "create"} {
		lite, ok1 := s.find("SQLite", name)
		pg, ok2 := s.find("PostgreSQL", name)
		if ok1 && ok2 && lite.RPS > 0 {
			fmt.Fprintf(&b, "| PostgreSQL %s ≥ 70 %% of SQLite's | %s/s = %s (server CPU %s µs/req) | %s |\n",
				name, thousands(pg.RPS), pct(pg.RPS/lite.RPS), usec(pg.ServerCPU), yesNo(pg.RPS >= 0.7*lite.RPS))
		}
	}
	if r, ok := s.find("SQLite", "login"); ok && s.Argon2.Parallel > 0 {
		fmt.Fprintf(&b, "| login ≥ 90 %% of the rate both cores hash alone (%.0f/s with %d parallel hashes; %.1f ms for one) | %.0f/s = %s | %s |\n",
			s.Argon2.Parallel, runtime.NumCPU(), ms(s.Argon2.Single), r.RPS, pct(r.RPS/s.Argon2.Parallel), yesNo(r.RPS >= 0.9*s.Argon2.Parallel))
	}
	return b.String()
}

func (s standardReport) historyLine() string {
	var parts []string
	parts = append(parts, "baseline "+thousands(s.BaselineRPS)+"/s")
	for _, su := range s.Suites {
		if su.Skipped != "" {
			parts = append(parts, su.Backend+" skipped")
			continue
		}
		for _, r := range su.Results {
			label := r.Name
			if su.Backend != "SQLite" {
				label = su.Backend + " " + label
			}
			parts = append(parts, fmt.Sprintf("%s %s/s (%s)", label, thousands(r.RPS), pct(r.Ratio)))
		}
	}
	commit := s.Machine.Commit
	if commit == "" {
		commit = "no commit"
	}
	return fmt.Sprintf("- %s, %s, %d cores, c=%d, %v: %s", s.Machine.Date.Format("2006-01-02 15:04 MST"), commit,
		s.Machine.Cores, s.Config.conc, s.Config.duration, strings.Join(parts, "; "))
}
