package main

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// newClient returns the load generator's client: keep-alive connections,
// one per worker (MaxConnsPerHost caps them, MaxIdleConnsPerHost keeps them
// all idle-able so none is closed and redialled between requests), no
// compression, no proxy (only loopback is ever targeted), and no
// Client.Timeout (it would copy every request); a stuck server is cut off by
// ResponseHeaderTimeout instead.
func newClient(conc int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          2 * conc,
			MaxIdleConnsPerHost:   2 * conc,
			MaxConnsPerHost:       conc,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			DisableCompression:    true,
			ForceAttemptHTTP2:     false,
			WriteBufferSize:       8 << 10,
			ReadBufferSize:        16 << 10,
		},
		// Never follow redirects: a 3xx is a result to count.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// histogram is a log-linear latency histogram (HDR-like): 64 buckets per
// power of two, so any recorded value is known within 1.6 %. Values are
// nanoseconds.
type histogram struct {
	counts [64 * 40]uint64
	n      uint64
	max    time.Duration
}

const subBucketBits = 7 // values below 2^7 ns are exact

func bucketOf(v uint64) int {
	e := bits.Len64(v) - subBucketBits
	if e < 0 {
		e = 0
	}
	return e<<(subBucketBits-1) + int(v>>uint(e))
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) time.Duration {
	half := 1 << (subBucketBits - 1)
	e := 0
	if i >= 2*half {
		e = i/half - 1
	}
	lo := uint64(i-e*half) << uint(e)
	width := uint64(1) << uint(e)
	return time.Duration(lo + width/2)
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketValue(i), h.max)
		}
	}
	return h.max
}

// quietWait is how long drive waits for other processes on the machine to
// use less than quietThreshold cores before a scenario (-quiet-wait).
var quietWait time.Duration

const quietThreshold = 0.2

// step sends one request and returns its status (0 with err on a transport
// failure). Each worker has its own step, with its own state.
type step func(ctx context.Context) (status int, err error)

// scenario is one measured workload.
type scenario struct {
	name string
	note string // what it does, for the report
	conc int    // 0: the run's concurrency
	// setup prepares worker w's step (tokens, its own book, its own
	// session). It runs before the warm-up, for all workers concurrently.
	setup func(ctx context.Context, w int) (step, error)
	// wrk, when set, is how wrk drives the same requests (-driver wrk).
	wrk *wrkPlan
}

// result is what one scenario measured.
type result struct {
	Name        string
	Note        string
	Conc        int
	Requests    uint64
	Elapsed     time.Duration
	RPS         float64
	P50, P99    time.Duration
	Max         time.Duration
	Non2xx      uint64
	Errors      uint64
	FirstErr    string
	ServerCPU   time.Duration // per request
	ServerCores float64       // average cores the server used
	ClientCPU   time.Duration // per request, this process
	OtherCores  float64       // cores used by every other process on the machine during the window
	PeakRSS     int64         // VmHWM after a reset at the start, or the sampled maximum
	PeakExact   bool          // PeakRSS is the kernel's VmHWM since the reset
	EndRSS      int64
	Ratio       float64 // RPS / baseline RPS, when known
}

// drive runs sc against the process pid: setup, warm-up, then the measured
// window. Every loop is bounded by the clock; it returns when the window
// has ended and every worker has finished its last request.
func drive(ctx context.Context, sc scenario, conc int, warmup, dur time.Duration, pid int) (result, error) {
	if sc.conc > 0 {
		conc = sc.conc
	}
	if useWrk && sc.wrk != nil {
		return driveWrk(ctx, sc, conc, warmup, dur, pid)
	}
	if quietWait > 0 {
		if other := waitQuiet(quietWait, quietThreshold, pid); other >= quietThreshold {
			logf("    the machine is busy: other processes use %.2f cores; measuring anyway", other)
		}
	}
	steps := make([]step, conc)
	var setupErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := sc.setup(ctx, w)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && setupErr == nil {
				setupErr = fmt.Errorf("%s: setup of worker %d: %w", sc.name, w, err)
			}
			steps[w] = s
		}()
	}
	wg.Wait()
	if setupErr != nil {
		return result{}, setupErr
	}

	type workerStats struct {
		hist     histogram
		non2xx   uint64
		errors   uint64
		firstErr string
	}
	stats := make([]*workerStats, conc)
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(dur)
	for w := range conc {
		stats[w] = &workerStats{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, run := stats[w], steps[w]
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := run(ctx)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue // warm-up, or finished after the window
				}
				st.hist.record(t1.Sub(t0))
				switch {
				case err != nil:
					st.errors++
					if st.firstErr == "" {
						st.firstErr = err.Error()
					}
				case status < 200 || status > 299:
					st.non2xx++
					if st.firstErr == "" {
						st.firstErr = fmt.Sprintf("HTTP %d", status)
					}
				}
			}
		}()
	}

	// The controller: snapshots at the window's edges, RSS samples inside.
	time.Sleep(time.Until(measureFrom))
	win := openWindow(pid)
	win.sample(ctx, end)
	self1 := selfCPU()
	win.close()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}

	var h histogram
	r := result{Name: sc.name, Note: sc.note, Conc: conc}
	for _, st := range stats {
		h.merge(&st.hist)
		r.Non2xx += st.non2xx
		r.Errors += st.errors
		if r.FirstErr == "" {
			r.FirstErr = st.firstErr
		}
	}
	r.Requests = h.n
	r.P50, r.P99, r.Max = h.quantile(0.50), h.quantile(0.99), h.max
	win.fill(&r, self1-win.self0)
	return r, nil
}

// window measures the server process pid between openWindow and close: its
// CPU, its peak RSS (the kernel's high-water mark after a reset, else
// samples), and the CPU of every other process on the machine.
type window struct {
	pid             int
	exactPeak       bool
	t0, t1          time.Time
	cpu0, cpu1      time.Duration
	busy0, busy1    time.Duration
	self0           time.Duration // this process's CPU at the start
	cpuErr, busyErr error
	sampled, endRSS int64
	hwm             int64
	memErr          error
}

func openWindow(pid int) *window {
	w := &window{pid: pid, exactPeak: resetPeakRSS(pid)}
	var err0, errBusy0 error
	w.cpu0, err0 = cpuTime(pid)
	w.self0 = selfCPU()
	w.busy0, errBusy0 = machineBusy()
	w.t0 = time.Now()
	w.cpuErr, w.busyErr = err0, errBusy0
	return w
}

// sample records the server's RSS every 100 ms until end.
func (w *window) sample(ctx context.Context, end time.Time) {
	for time.Now().Before(end) && ctx.Err() == nil {
		if rss, _, err := memStatus(w.pid); err == nil {
			w.sampled = max(w.sampled, rss)
		}
		time.Sleep(min(100*time.Millisecond, max(time.Until(end), 0)))
	}
}

func (w *window) close() {
	var err1, errBusy1 error
	w.cpu1, err1 = cpuTime(w.pid)
	w.busy1, errBusy1 = machineBusy()
	w.t1 = time.Now()
	w.endRSS, w.hwm, w.memErr = memStatus(w.pid)
	w.cpuErr = errors.Join(w.cpuErr, err1)
	w.busyErr = errors.Join(w.busyErr, errBusy1)
}

// fill completes r, whose Requests are set, with the window's figures;
// client is the load generator's CPU over the window.
func (w *window) fill(r *result, client time.Duration) {
	r.Elapsed = w.t1.Sub(w.t0)
	r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	server := w.cpu1 - w.cpu0
	if r.Requests > 0 {
		if w.cpuErr == nil {
			r.ServerCPU = server / time.Duration(r.Requests)
			r.ServerCores = server.Seconds() / r.Elapsed.Seconds()
		}
		r.ClientCPU = client / time.Duration(r.Requests)
	}
	if w.cpuErr == nil && w.busyErr == nil {
		other := (w.busy1 - w.busy0) - server - client
		r.OtherCores = max(other.Seconds()/r.Elapsed.Seconds(), 0)
	}
	if w.memErr == nil {
		r.EndRSS = w.endRSS
		r.PeakRSS, r.PeakExact = max(w.sampled, w.endRSS), false
		if w.exactPeak {
			r.PeakRSS, r.PeakExact = w.hwm, true
		}
	}
}

// medianResult picks, among repeats of one scenario, the one with the
// median requests/s.
func medianResult(rs []result) result {
	sorted := append([]result(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].RPS < sorted[j].RPS })
	return sorted[(len(sorted)-1)/2]
}
