package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/proctest"
)

// BenchmarkLoginFlood sends wrong passwords from 200 clients as fast as they
// can (throttling off, so every attempt costs an argon2id hash) while a
// logged-in user lists their books. It reports the user's p50/p99 list
// latency, the flood's rate and the server's peak RSS: at most NumCPU
// hashes run at once, so memory stays near NumCPU × 19 MiB plus the base,
// and reads keep being served.
//
//	go test -run '^$' -bench LoginFlood -benchtime 1x ./internal/faults
func BenchmarkLoginFlood(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bookstore.db")
	srv := proctest.Start(b, proctest.FreeAddr(b), "BOOKSTORE_DATABASE_URL="+path, "BOOKSTORE_THROTTLE=off", "BOOKSTORE_LOG_LEVEL=warn")
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
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+lr.JSON200.AccessToken)
		return nil
	}
	for i := range 20 {
		c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, book(fmt.Sprintf("Book %d", i)), auth)
	}
	pid := srv.Cmd.Process.Pid
	for b.Loop() {
		const flooders, duration = 200, 5 * time.Second
		stop := make(chan struct{})
		var attempts, refused atomic.Int64
		var wg sync.WaitGroup
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
		for range flooders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("POST", srv.URL+"/auth/login", strings.NewReader(`{"username":"alice","password":"wrong wrong wrong wrong"}`))
					req.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(req)
					if err != nil {
						continue
					}
					res.Body.Close()
					attempts.Add(1)
					if res.StatusCode != 401 {
						refused.Add(1)
					}
				}
			}()
		}
		var latencies []time.Duration
		listErrors := 0
		deadline := time.Now().Add(duration)
		for time.Now().Before(deadline) {
			start := time.Now()
			r, err := c.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, auth)
			latencies = append(latencies, time.Since(start))
			if err != nil || r.StatusCode() != 200 {
				listErrors++
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		slices.Sort(latencies)
		q := func(p float64) float64 {
			return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(q(0.50), "list-p50-ms")
		b.ReportMetric(q(0.99), "list-p99-ms")
		b.ReportMetric(float64(attempts.Load())/duration.Seconds(), "logins/s")
		b.ReportMetric(peakRSSMiB(b, pid), "peak-RSS-MiB")
		if listErrors > 0 || refused.Load() > 0 {
			b.Errorf("%d list errors, %d login answers other than 401", listErrors, refused.Load())
		}
	}
}

// peakRSSMiB reads the process's high-water RSS (VmHWM).
func peakRSSMiB(tb testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var n float64
			fmt.Sscanf(strings.TrimSpace(kb), "%f", &n)
			return n / 1024
		}
	}
	return 0
}
