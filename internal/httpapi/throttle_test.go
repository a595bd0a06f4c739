package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
)

func withThrottle(limits auth.ThrottleLimits) func(*apiOptions) {
	return func(o *apiOptions) { o.throttle = &limits }
}

func loginBody(username, password string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
}

// assertThrottled checks a 429 problem with a sane Retry-After.
func assertThrottled(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	if res.StatusCode != 429 {
		t.Fatalf("status %d, want 429: %s", res.StatusCode, body)
	}
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60*60 { // the longest window: an account's hour
		t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
	}
}

func TestLoginThrottle(t *testing.T) {
	api := newTestAPI(t, withThrottle(auth.DefaultThrottleLimits()))
	api.register("alice")
	api.register("bob")
	wrong := loginBody("alice", "not the right password")

	t.Run("a success clears the count", func(t *testing.T) {
		for range 9 {
			api.do("POST", "/auth/login", jsonHeader(""), wrong)
		}
		api.login("alice", strongPassword)
		for i := range 10 {
			if res, body := api.do("POST", "/auth/login", jsonHeader(""), wrong); res.StatusCode != 401 {
				t.Fatalf("failure %d after a success: %d %s", i+1, res.StatusCode, body)
			}
		}
	})
	t.Run("the 11th attempt is refused, even with the right password", func(t *testing.T) {
		res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("alice", strongPassword))
		assertThrottled(t, res, body)
		// HTTP Basic is counted alike.
		res, body = api.do("POST", "/auth/login", http.Header{"Authorization": {basic("alice", strongPassword)}}, "")
		assertThrottled(t, res, body)
	})
	t.Run("another user from the same address is not locked out", func(t *testing.T) {
		api.login("bob", strongPassword)
	})
	t.Run("unknown usernames count like known ones", func(t *testing.T) {
		for range 10 {
			api.do("POST", "/auth/login", http.Header{"Authorization": {basic("nobody", "whatever it is")}}, "")
		}
		res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("nobody", "whatever it is"))
		assertThrottled(t, res, body)
	})
	t.Run("a rotating X-Forwarded-For from an untrusted peer changes nothing", func(t *testing.T) {
		h := jsonHeader("")
		h.Set("X-Forwarded-For", "203.0.113.7")
		res, body := api.do("POST", "/auth/login", h, loginBody("alice", strongPassword))
		assertThrottled(t, res, body)
	})
}

func basic(user, password string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

func TestLoginThrottlePerIP(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerIP = 5
	api := newTestAPI(t, withThrottle(limits))
	api.register("alice")
	for i := range 5 {
		api.do("POST", "/auth/login", jsonHeader(""), loginBody(fmt.Sprintf("user%d", i), "not the right password"))
	}
	res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("alice", strongPassword))
	assertThrottled(t, res, body)
}

// A successful login clears its own username's failures from the address,
// never the address's failures at other accounts (issue 15): else one good
// account would launder guesses at every other.
func TestLoginSuccessKeepsTheAddressCount(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerIP = 5
	api := newTestAPI(t, withThrottle(limits))
	api.register("alice")
	for i := range 4 {
		api.do("POST", "/auth/login", jsonHeader(""), loginBody(fmt.Sprintf("user%d", i), "not the right password"))
	}
	for range 3 { // successes neither count nor clear
		api.login("alice", strongPassword)
	}
	if res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("user4", "not the right password")); res.StatusCode != 401 {
		t.Fatalf("the address's fifth failure: %d %s, want 401", res.StatusCode, body)
	}
	res, body := api.do("POST", "/auth/login", jsonHeader(""), loginBody("user5", "not the right password"))
	assertThrottled(t, res, body)
}

func TestThrottleTrustedProxies(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerUserIP = 2
	api := newTestAPI(t, withThrottle(limits), func(o *apiOptions) {
		o.proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	api.register("alice")
	from := func(ip string) http.Header {
		h := jsonHeader("")
		h.Set("X-Forwarded-For", "198.51.100.1, "+ip)
		return h
	}
	for range 2 {
		api.do("POST", "/auth/login", from("203.0.113.7"), loginBody("alice", "not the right password"))
	}
	res, body := api.do("POST", "/auth/login", from("203.0.113.7"), loginBody("alice", strongPassword))
	assertThrottled(t, res, body)
	// Behind the trusted proxy, another client is another address.
	if res, body := api.do("POST", "/auth/login", from("203.0.113.8"), loginBody("alice", strongPassword)); res.StatusCode != 200 {
		t.Fatalf("another client behind the proxy: %d %s", res.StatusCode, body)
	}
}

func TestThrottleSurvivesRestart(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.LoginPerUserIP = 3
	database := newDatabase(t)
	first := newTestAPI(t, withThrottle(limits), func(o *apiOptions) { o.database = database })
	first.register("alice")
	for range 3 {
		first.do("POST", "/auth/login", jsonHeader(""), loginBody("alice", "not the right password"))
	}
	second := newTestAPI(t, withThrottle(limits), func(o *apiOptions) { o.database = database })
	res, body := second.do("POST", "/auth/login", jsonHeader(""), loginBody("alice", strongPassword))
	assertThrottled(t, res, body)
}

func TestOtherThrottles(t *testing.T) {
	limits := auth.DefaultThrottleLimits()
	limits.RefreshPerIP, limits.PasswordPerUser, limits.RegisterPerIP = 3, 3, 3
	api := newTestAPI(t, withThrottle(limits))
	ctx := context.Background()
	alice := api.register("alice")
	api.register("bob")

	t.Run("invalid refresh tokens per address", func(t *testing.T) {
		for range 3 {
			api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: "bsr_guess"})
		}
		res, body := api.do("POST", "/auth/refresh", jsonHeader(""), `{"refresh_token":"`+alice.Refresh+`"}`)
		assertThrottled(t, res, body)
		// Logging out by refresh token counts against the same limit.
		res, body = api.do("POST", "/auth/logout", jsonHeader(""), `{"refresh_token":"`+alice.Refresh+`"}`)
		assertThrottled(t, res, body)
	})
	t.Run("wrong current passwords per user", func(t *testing.T) {
		for range 3 {
			api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: "guess guess guess", NewPassword: "another long passphrase here"}, alice.Auth())
		}
		res, body := api.do("PUT", "/users/me/password", jsonHeader(alice.Access),
			`{"current_password":"`+strongPassword+`","new_password":"another long passphrase here"}`)
		assertThrottled(t, res, body)
	})
	t.Run("registrations per address", func(t *testing.T) {
		api.register("carol") // the third
		res, body := api.do("POST", "/auth/register", jsonHeader(""), `{"username":"dave","password":"`+strongPassword+`"}`)
		assertThrottled(t, res, body)
	})
}
