package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/bookstore/bookstore/internal/auth"
)

// burstRequest is one request of a burst.
type burstRequest struct {
	method, path string
	header       http.Header
	body         string
}

// burst sends every request at once, released together behind a barrier,
// and counts the answers by status.
func (api *testAPI) burst(t *testing.T, reqs []burstRequest) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	var mu sync.Mutex
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for _, r := range reqs {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			req, err := http.NewRequest(r.method, api.URL+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Error(err)
				ready.Done()
				return
			}
			for k, v := range r.header {
				req.Header[k] = v
			}
			ready.Done()
			<-start
			res, err := api.HTTP.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return statuses
}

func repeat(n int, r burstRequest) []burstRequest {
	out := make([]burstRequest, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// hashesDuring is how many password hashes the server computed while fn ran.
func (api *testAPI) hashesDuring(fn func()) int {
	before := api.Hasher.Computed()
	fn()
	return int(api.Hasher.Computed() - before)
}

// Guesses that arrive together cannot all pass a check made before any of
// them counted: however many there are, the limit's worth are checked and
// the rest refused before any work.
func TestConcurrentLoginsAreThrottled(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	for _, n := range []int{40, 150} {
		t.Run(fmt.Sprintf("%d wrong passwords for one account from one address", n), func(t *testing.T) {
			api := newTestAPI(t, withThrottle(limits))
			api.register("alice")
			var statuses map[int]int
			hashes := api.hashesDuring(func() {
				statuses = api.burst(t, repeat(n, burstRequest{"POST", "/auth/login", jsonHeader(""), loginBody("alice", "not the right password")}))
			})
			if hashes != limits.LoginPerUserIP || statuses[401] != limits.LoginPerUserIP || statuses[429] != n-limits.LoginPerUserIP {
				t.Fatalf("%d password checks, answers %v; want %d checks, %d × 401 and the rest 429", hashes, statuses, limits.LoginPerUserIP, limits.LoginPerUserIP)
			}
			if logged := strings.Count(api.Logs.String(), `"event":"login_failed"`); logged != limits.LoginPerUserIP {
				t.Errorf("%d login_failed events, want %d", logged, limits.LoginPerUserIP)
			}
		})
	}
	t.Run("150 wrong passwords for as many accounts from one address", func(t *testing.T) {
		limits := limits
		limits.LoginPerIP = 100
		api := newTestAPI(t, withThrottle(limits))
		reqs := make([]burstRequest, 150)
		for i := range reqs {
			reqs[i] = burstRequest{"POST", "/auth/login", jsonHeader(""), loginBody(fmt.Sprintf("user%d", i), "not the right password")}
		}
		var statuses map[int]int
		hashes := api.hashesDuring(func() { statuses = api.burst(t, reqs) })
		if hashes != 100 || statuses[401] != 100 || statuses[429] != 50 {
			t.Fatalf("%d password checks, answers %v; want 100 checks and 50 × 429", hashes, statuses)
		}
	})
}

func TestConcurrentCurrentPasswordsAreThrottled(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	api := newTestAPI(t, withThrottle(limits))
	alice := api.register("alice")
	var statuses map[int]int
	hashes := api.hashesDuring(func() {
		statuses = api.burst(t, repeat(30, burstRequest{"PUT", "/users/me/password", jsonHeader(alice.Access),
			`{"current_password":"guess guess guess guess","new_password":"another long passphrase here"}`}))
	})
	if hashes != limits.PasswordPerUser || statuses[403] != limits.PasswordPerUser || statuses[429] != 30-limits.PasswordPerUser {
		t.Fatalf("%d password checks, answers %v; want %d checks, the rest 429", hashes, statuses, limits.PasswordPerUser)
	}
}

func TestEveryRegistrationAttemptCounts(t *testing.T) {
	t.Run("230 registrations of a taken name", func(t *testing.T) {
		limits := auth.DefaultThrottleLimits()
		api := newTestAPI(t, withThrottle(limits))
		api.register("alice") // the address's first registration
		taken := fmt.Sprintf(`{"username":"alice","password":%q}`, strongPassword)
		var statuses map[int]int
		hashes := api.hashesDuring(func() {
			statuses = api.burst(t, repeat(230, burstRequest{"POST", "/auth/register", jsonHeader(""), taken}))
		})
		allowed := limits.RegisterPerIP - 1
		if statuses[409] != allowed || statuses[429] != 230-allowed || hashes > allowed {
			t.Fatalf("answers %v, %d hashes; want %d × 409 then 429", statuses, hashes, allowed)
		}
	})
	t.Run("created, taken and refused by the policy alike", func(t *testing.T) {
		limits := auth.DefaultThrottleLimits()
		limits.RegisterPerIP = 5
		api := newTestAPI(t, withThrottle(limits))
		for _, c := range []struct {
			body   string
			status int
		}{
			{fmt.Sprintf(`{"username":"alice","password":%q}`, strongPassword), 201},
			{fmt.Sprintf(`{"username":"alice","password":%q}`, strongPassword), 409},
			{fmt.Sprintf(`{"username":"ALICE","password":%q}`, strongPassword), 409},
			{`{"username":"bob","password":"passwordpassword"}`, 400},
			{`{"username":"carol","password":"bob bob bob bob bob"}`, 400},
		} {
			if res, body := api.do("POST", "/auth/register", jsonHeader(""), c.body); res.StatusCode != c.status {
				t.Fatalf("%s: %d %s, want %d", c.body, res.StatusCode, body, c.status)
			}
		}
		res, body := api.do("POST", "/auth/register", jsonHeader(""), fmt.Sprintf(`{"username":"dave","password":%q}`, strongPassword))
		assertThrottled(t, res, body)
	})
}

// from sends a request as client ip, through a trusted proxy.
func from(ip string) http.Header {
	h := jsonHeader("")
	h.Set("X-Forwarded-For", ip)
	return h
}

func behindProxy(o *apiOptions) {
	o.proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

func TestAccountLimitAcrossAddresses(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	// Not a multiple of the bursts' 10: the fourth burst crosses the limit
	// with its guesses in flight together, so a per-account count taken
	// after the hash would let all ten through.
	limits.LoginPerAccount = 35
	api := newTestAPI(t, withThrottle(limits), behindProxy)
	api.register("alice")
	const home = "192.0.2.10" // where alice logs in from
	if res, body := api.do("POST", "/auth/login", from(home), loginBody("alice", strongPassword)); res.StatusCode != 200 {
		t.Fatalf("login from home: %d %s", res.StatusCode, body)
	}
	var statuses map[int]int
	hashes := api.hashesDuring(func() {
		for i := range 5 {
			statuses = api.burst(t, repeat(10, burstRequest{"POST", "/auth/login", from(fmt.Sprintf("203.0.113.%d", i+1)), loginBody("alice", "not the right password")}))
		}
	})
	if hashes != limits.LoginPerAccount {
		t.Fatalf("5 addresses × 10 guesses: %d password checks, want the account's limit %d", hashes, limits.LoginPerAccount)
	}
	if statuses[429] != 10 {
		t.Fatalf("the fifth address's guesses: %v, want all 429", statuses)
	}
	t.Run("the right password from a sixth address is refused", func(t *testing.T) {
		res, body := api.do("POST", "/auth/login", from("198.51.100.6"), loginBody("alice", strongPassword))
		assertThrottled(t, res, body)
	})
	t.Run("an address that logged in recently still gets in", func(t *testing.T) {
		if res, body := api.do("POST", "/auth/login", from(home), loginBody("alice", strongPassword)); res.StatusCode != 200 {
			t.Fatalf("login from home while the account limit is reached: %d %s", res.StatusCode, body)
		}
	})
	t.Run("but only with its own per-address allowance", func(t *testing.T) {
		statuses := api.burst(t, repeat(limits.LoginPerUserIP+5, burstRequest{"POST", "/auth/login", from(home), loginBody("alice", "not the right password")}))
		if statuses[401] != limits.LoginPerUserIP || statuses[429] != 5 {
			t.Fatalf("guesses from home: %v, want %d × 401 then 429", statuses, limits.LoginPerUserIP)
		}
	})
	t.Run("other accounts are not affected", func(t *testing.T) {
		api.register("bob")
		if res, body := api.do("POST", "/auth/login", from("198.51.100.6"), loginBody("bob", strongPassword)); res.StatusCode != 200 {
			t.Fatalf("bob: %d %s", res.StatusCode, body)
		}
	})
}

func TestThrottleKeysByNetwork(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerUserIP = 3
	limits.IPv4Prefix = 24
	api := newTestAPI(t, withThrottle(limits), behindProxy)
	api.register("alice")
	api.register("bob")
	for _, c := range []struct {
		name, user, guesser, sibling, stranger string
	}{
		{"two IPv6 addresses in one /64 share a counter", "alice", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1"},
		{"IPv4 by the configured /24", "bob", "198.51.100.1", "198.51.100.254", "198.51.101.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for range 3 {
				api.do("POST", "/auth/login", from(c.guesser), loginBody(c.user, "not the right password"))
			}
			res, body := api.do("POST", "/auth/login", from(c.sibling), loginBody(c.user, strongPassword))
			assertThrottled(t, res, body)
			if res, body := api.do("POST", "/auth/login", from(c.stranger), loginBody(c.user, strongPassword)); res.StatusCode != 200 {
				t.Fatalf("from another network: %d %s", res.StatusCode, body)
			}
		})
	}
}

// A full hashing queue refuses password checks at once with a 503 and
// Retry-After, before any work, and gives their throttle slots back.
func TestHashQueueFullRefusesAtOnce(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	api := newTestAPI(t, withThrottle(limits), func(o *apiOptions) { o.hashQueueWait = 1 }) // 1 ns: no queue
	alice := api.register("alice")
	api.allow5xx = true
	overloaded := func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode != 503 || problemOf(t, body).Type != "/problems/overloaded" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%d %s (Retry-After %q), want a 503 overloaded problem", res.StatusCode, body, res.Header.Get("Retry-After"))
		}
	}
	// The test takes both hashing slots, as two long hashes would.
	var releases []func()
	for range 2 {
		release, err := api.Hasher.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	hashes := api.hashesDuring(func() {
		for range limits.LoginPerUserIP + 5 {
			res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("alice", strongPassword))
			overloaded(t, res, body)
		}
		res, body := api.do("POST", "/auth/register", jsonHeader(""), fmt.Sprintf(`{"username":"bob","password":%q}`, strongPassword))
		overloaded(t, res, body)
		res, body = api.do("PUT", "/users/me/password", jsonHeader(alice.Access),
			fmt.Sprintf(`{"current_password":%q,"new_password":"another long passphrase here"}`, strongPassword))
		overloaded(t, res, body)
	})
	if hashes != 0 {
		t.Fatalf("%d hashes computed for refused requests", hashes)
	}
	for _, release := range releases {
		release()
	}
	// The refused logins took no throttle slots for good.
	api.login("alice", strongPassword)
}

func TestConcurrentRefreshTokensAreThrottled(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.RefreshPerIP = 20
	api := newTestAPI(t, withThrottle(limits))
	alice := api.register("alice")
	statuses := api.burst(t, repeat(60, burstRequest{"POST", "/auth/refresh", jsonHeader(""), `{"refresh_token":"bsr_guess"}`}))
	if statuses[401] != 20 || statuses[429] != 40 {
		t.Fatalf("60 invalid refresh tokens at once: %v; want 20 × 401 and 40 × 429", statuses)
	}
	res, body := api.do("POST", "/auth/refresh", jsonHeader(""), `{"refresh_token":"`+alice.Refresh+`"}`)
	assertThrottled(t, res, body)
}
