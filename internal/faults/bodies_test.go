package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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

// BenchmarkBodyFlood sends 1 MiB amplification bodies (a login followed by
// `{},` until the MiB is full: each would be a map in a generic decoder)
// from 32 clients for 20 s — unauthenticated to /auth/login, /auth/register
// and /books, and with a valid token to /books — while a logged-in user
// lists their books. It reports the user's p50/p99 list latency, the
// flood's rate, the statuses it got and the server's peak RSS. The flood
// must cause no 5xx; issue 9 asks for peak RSS ≤ 150 MiB and p99 ≤ 100 ms.
//
//	go test -run '^$' -bench BodyFlood -benchtime 1x ./internal/faults
func BenchmarkBodyFlood(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bookstore.db")
	srv := proctest.Start(b, proctest.FreeAddr(b), "BOOKSTORE_DATABASE_URL="+path, "BOOKSTORE_LOG_LEVEL=warn")
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
	token := lr.JSON200.AccessToken
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	for i := range 20 {
		c.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, book(fmt.Sprintf("Book %d", i)), auth)
	}
	const head, tail = `{"username":"x","password":"y","z":[`, `{}]}`
	hostile := []byte(head + strings.Repeat(`{},`, (1<<20-len(head)-len(tail))/3) + tail)
	targets := []struct{ path, token string }{
		{"/auth/login", ""}, {"/auth/register", ""}, {"/books", ""}, {"/books", token},
	}
	pid := srv.Cmd.Process.Pid
	for b.Loop() {
		const flooders, duration = 32, 20 * time.Second
		stop := make(chan struct{})
		var sent, transportErrors atomic.Int64
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
		for i := range flooders {
			target := targets[i%len(targets)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("POST", srv.URL+target.path, bytes.NewReader(hostile))
					req.Header.Set("Content-Type", "application/json")
					if target.token != "" {
						req.Header.Set("Authorization", "Bearer "+target.token)
					}
					sent.Add(1)
					res, err := hc.Do(req)
					if err != nil {
						// The server answers before the body is sent and
						// closes; a client may see that as a reset.
						transportErrors.Add(1)
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					mu.Lock()
					statuses[res.StatusCode]++
					mu.Unlock()
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
		b.ReportMetric(float64(sent.Load())/duration.Seconds(), "bodies/s")
		b.ReportMetric(peakRSSMiB(b, pid), "peak-RSS-MiB")
		b.ReportMetric(float64(transportErrors.Load()), "transport-errors")
		b.Logf("statuses: %v", statuses)
		fivexx := 0
		for status, n := range statuses {
			if status >= 500 {
				fivexx += n
			}
		}
		if listErrors > 0 || fivexx > 0 {
			b.Errorf("%d list errors, %d answers 5xx", listErrors, fivexx)
		}
	}
}
