package faults_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoginFlood sends wrong passwords from 200 clients as fast as they
// can (throttling off, so every attempt costs an argon2id hash, unless the
// hashing queue is full and it gets a 503 at once; then the client waits
// for its Retry-After, as HTTP clients do: one that ignores it is a plain
// request flood, refused as cheaply as a 429) while a logged-in user lists
// their books. It reports the user's p50/p99 list latency, the rate of
// password checks (401s) and of 503s, and the server's peak RSS: a bounded
// number of hashes run at once, so memory stays near slots × 19 MiB plus
// the base, and reads keep being served.
//
//	go test -run '^$' -bench LoginFlood -benchtime 1x ./internal/faults
//
// BOOKSTORE_HASH_SLOTS, BOOKSTORE_HASH_QUEUE_WAIT and GOMAXPROCS, when set,
// are passed to the server, to compare settings.
func BenchmarkLoginFlood(b *testing.B) {
	env := []string{"BOOKSTORE_THROTTLE=off", "BOOKSTORE_LOG_LEVEL=warn"}
	for _, name := range []string{"BOOKSTORE_HASH_SLOTS", "BOOKSTORE_HASH_QUEUE_WAIT", "GOMAXPROCS"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	rb := newReaderBench(b, env...)
	for b.Loop() {
		const flooders, duration = 200, 5 * time.Second
		var checked, busy, other atomic.Int64
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
		listErrors := rb.floodFor(b, duration, flooders, func(int) {
			req, _ := http.NewRequest("POST", rb.srv.URL+"/auth/login", strings.NewReader(`{"username":"alice","password":"wrong wrong wrong wrong"}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				return
			}
			res.Body.Close()
			switch res.StatusCode {
			case 401:
				checked.Add(1)
			case 503:
				busy.Add(1)
				secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
				time.Sleep(time.Duration(max(secs, 1)) * time.Second)
			default:
				other.Add(1)
			}
		})
		b.ReportMetric(float64(checked.Load())/duration.Seconds(), "logins/s")
		b.ReportMetric(float64(busy.Load())/duration.Seconds(), "503/s")
		if listErrors > 0 || other.Load() > 0 {
			b.Errorf("%d list errors, %d login answers other than 401 and 503", listErrors, other.Load())
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
