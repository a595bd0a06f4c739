package faults_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	rb := newReaderBench(b, "BOOKSTORE_THROTTLE=off", "BOOKSTORE_LOG_LEVEL=warn")
	for b.Loop() {
		const flooders, duration = 200, 5 * time.Second
		var attempts, refused atomic.Int64
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
		listErrors := rb.floodFor(b, duration, flooders, func(int) {
			req, _ := http.NewRequest("POST", rb.srv.URL+"/auth/login", strings.NewReader(`{"username":"alice","password":"wrong wrong wrong wrong"}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				return
			}
			res.Body.Close()
			attempts.Add(1)
			if res.StatusCode != 401 {
				refused.Add(1)
			}
		})
		b.ReportMetric(float64(attempts.Load())/duration.Seconds(), "logins/s")
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
