package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

// readerBench is the real server with one logged-in reader who owns 20
// books, for benchmarks that flood the server beside them.
type readerBench struct {
	srv   *proctest.Server
	c     *oapi.ClientWithResponses
	token string
}

func newReaderBench(b *testing.B, env ...string) readerBench {
	path := filepath.Join(b.TempDir(), "bookstore.db")
	srv := proctest.Start(b, proctest.FreeAddr(b), append([]string{"BOOKSTORE_DATABASE_URL=" + path}, env...)...)
	ctx := context.Background()
	c, err := oapi.NewClientWithResponses(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	if r, err := c.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: password}); err != nil || r.StatusCode() != 201 {
		b.Fatalf("register: %v", err)
	}
	lr, err := c.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: password})
	if err != nil || lr.JSON200 == nil {
		b.Fatalf("login: %v", err)
	}
	rb := readerBench{srv: srv, c: c, token: lr.JSON200.AccessToken}
	for i := range 20 {
		c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, book(fmt.Sprintf("Book %d", i)), rb.auth)
	}
	return rb
}

func (rb readerBench) auth(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+rb.token)
	return nil
}

// floodFor runs workers goroutines, each calling work(i) over and over,
// while the reader lists their books every 10 ms for d. It reports the
// reader's p50 and p99 (list-p50-ms, list-p99-ms), the server's peak RSS
// (peak-RSS-MiB) and the share of one core the server used (server-cpu-%:
// on a shared machine, what the server itself spent), and returns how
// many lists failed.
func (rb readerBench) floodFor(b *testing.B, d time.Duration, workers int, work func(worker int)) (listErrors int) {
	pid := rb.srv.Cmd.Process.Pid
	cpuBefore, started := cpuSeconds(b, pid), time.Now()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		untilClosed(stop, workers, work)
		close(stopped)
	}()
	ctx := context.Background()
	var latencies []time.Duration
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		start := time.Now()
		r, err := rb.c.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, rb.auth)
		latencies = append(latencies, time.Since(start))
		if err != nil || r.StatusCode() != 200 {
			listErrors++
		}
	}
	close(stop)
	<-stopped
	slices.Sort(latencies)
	q := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "list-p50-ms")
	b.ReportMetric(q(0.99), "list-p99-ms")
	b.ReportMetric(peakRSSMiB(b, pid), "peak-RSS-MiB")
	b.ReportMetric(100*(cpuSeconds(b, pid)-cpuBefore)/time.Since(started).Seconds(), "server-cpu-%")
	return listErrors
}

// untilClosed calls work(worker) over and over in workers goroutines until
// stop is closed, and returns when they all have stopped.
func untilClosed(stop <-chan struct{}, workers int, work func(worker int)) {
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					work(i)
				}
			}
		})
	}
	wg.Wait()
}

// cpuSeconds is the user and system CPU time a process has used
// (/proc/PID/stat, in clock ticks of 1/100 s on Linux).
func cpuSeconds(tb testing.TB, pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name, field 2, may hold spaces: count from after it.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}
