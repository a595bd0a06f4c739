package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The wrk driver (-driver wrk, the default): wrk is a C load generator whose
// CPU per request is a small fraction of a Go net/http client's, so on a
// machine it shares with the server it takes far less from the server, and
// most from the fastest server, the baseline. It drives the scenarios that
// are one request shape over many callers (list, get, create, login, and the
// baseline); update and refresh follow a chain (each request needs the
// previous response's ETag or refresh token), which wrk's per-thread Lua
// cannot keep per connection, so they stay on the Go client, as do growth
// and the login flood.

var (
	useWrk     bool   // -driver wrk
	wrkThreads int    // -wrk-threads
	wrkScript  string // cmd/loadbench/bench.lua of the module
)

// wrkPlan is how wrk drives a scenario: the server, the mode of bench.lua
// and its data lines (one per caller, taken in turn).
type wrkPlan struct {
	base  string
	mode  string
	lines []string
}

// wrkSummary is the line bench.lua's done() prints.
type wrkSummary struct {
	Requests     uint64  `json:"requests"`
	DurationUS   float64 `json:"duration_us"`
	SocketErrors uint64  `json:"socket_errors"`
	Non2xx       uint64  `json:"non2xx"` // wrk counts statuses of 400 and up
	P50US        float64 `json:"p50_us"`
	P99US        float64 `json:"p99_us"`
	MaxUS        float64 `json:"max_us"`
}

// driveWrk runs sc's plan with wrk against the process pid: a warm-up run,
// then the measured run, with the server's CPU and RSS taken around it.
func driveWrk(ctx context.Context, sc scenario, conc int, warmup, dur time.Duration, pid int) (result, error) {
	if quietWait > 0 {
		if other := waitQuiet(quietWait, quietThreshold, pid); other >= quietThreshold {
			logf("    the machine is busy: other processes use %.2f cores; measuring anyway", other)
		}
	}
	data, err := os.CreateTemp("", "bookstore-wrk-*.txt")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(data.Name())
	_, err = data.WriteString(strings.Join(sc.wrk.lines, "\n") + "\n")
	if err := errors.Join(err, data.Close()); err != nil {
		return result{}, err
	}
	run := func(d time.Duration) (wrkSummary, time.Duration, error) {
		secs := max(1, int(d.Round(time.Second).Seconds())) // wrk takes whole seconds
		cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(conc),
			"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", wrkScript, sc.wrk.base)
		cmd.Env = append(os.Environ(), "BENCH_MODE="+sc.wrk.mode, "BENCH_DATA="+data.Name())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return wrkSummary{}, 0, fmt.Errorf("wrk: %w\n%s%s", err, stdout.String(), stderr.String())
		}
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		for line := range strings.Lines(stdout.String()) {
			if rest, ok := strings.CutPrefix(line, "BENCH "); ok {
				var s wrkSummary
				err := json.Unmarshal([]byte(rest), &s)
				return s, cpu, err
			}
		}
		return wrkSummary{}, 0, fmt.Errorf("wrk printed no BENCH line:\n%s%s", stdout.String(), stderr.String())
	}
	if warmup > 0 {
		if _, _, err := run(warmup); err != nil {
			return result{}, fmt.Errorf("%s: warm-up: %w", sc.name, err)
		}
	}
	win := openWindow(pid)
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		win.sample(sampling, time.Now().Add(dur+time.Minute))
	}()
	s, wrkCPU, err := run(dur)
	stopSampling()
	<-sampled
	win.close()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", sc.name, err)
	}
	r := result{Name: sc.name, Note: sc.note + " (wrk)", Conc: conc, Requests: s.Requests,
		P50: us(s.P50US), P99: us(s.P99US), Max: us(s.MaxUS), Non2xx: s.Non2xx, Errors: s.SocketErrors}
	if s.Non2xx+s.SocketErrors > 0 {
		r.FirstErr = fmt.Sprintf("wrk: %d responses of status 400 or more, %d socket errors", s.Non2xx, s.SocketErrors)
	}
	win.fill(&r, wrkCPU)
	return r, nil
}

func us(f float64) time.Duration { return time.Duration(f * float64(time.Microsecond)) }

// wrkPath is bench.lua in the module at root.
func wrkPath(root string) string { return filepath.Join(root, "cmd", "loadbench", "bench.lua") }
