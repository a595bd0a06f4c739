package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// RunThrottle checks the throttle counters. open must return a new,
// migrated, empty store on each call.
func RunThrottle(t *testing.T, open func(t *testing.T) bookstore.ThrottleStore) {
	const window = 15 * time.Minute
	take := func(t *testing.T, s bookstore.ThrottleStore, key string, limit int, now time.Time) (bool, time.Time) {
		t.Helper()
		ok, reset, err := s.TakeThrottle(t.Context(), key, limit, window, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok, reset
	}
	t.Run("takes up to the limit in a window, restarts after it", func(t *testing.T) {
		s := open(t)
		end := t0.Add(time.Second + window)
		for i := 1; i <= 3; i++ {
			if ok, reset := take(t, s, "k", 3, t0.Add(time.Duration(i)*time.Second)); !ok || !reset.Equal(end) {
				t.Fatalf("take %d: %v %v", i, ok, reset)
			}
		}
		// Refusals change nothing: the window still ends when it did.
		for range 2 {
			if ok, reset := take(t, s, "k", 3, t0.Add(time.Minute)); ok || !reset.Equal(end) {
				t.Fatalf("take past the limit: %v %v, want refused until %v", ok, reset, end)
			}
		}
		if ok, _ := take(t, s, "other", 3, t0.Add(time.Minute)); !ok {
			t.Fatal("another key was refused")
		}
		// A higher limit on the same key lets more through.
		if ok, _ := take(t, s, "k", 4, t0.Add(time.Minute)); !ok {
			t.Fatal("a fourth take under a limit of 4 was refused")
		}
		if ok, reset := take(t, s, "k", 4, end); !ok || !reset.Equal(end.Add(window)) {
			t.Fatalf("take after the window: %v %v", ok, reset)
		}
	})
	t.Run("refund and clear", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		take(t, s, "k", 2, t0)
		take(t, s, "k", 2, t0)
		if err := s.RefundThrottle(ctx, "k", t0); err != nil {
			t.Fatal(err)
		}
		if ok, _ := take(t, s, "k", 2, t0); !ok {
			t.Fatal("a refunded slot was not given back")
		}
		if ok, _ := take(t, s, "k", 2, t0); ok {
			t.Fatal("a refund gave back more than one slot")
		}
		if err := s.ClearThrottle(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if ok, _ := take(t, s, "k", 2, t0); !ok {
				t.Fatal("a cleared key is still full")
			}
		}
		// A refund never makes room below zero, nor in an ended window.
		if err := s.RefundThrottle(ctx, "new", t0); err != nil {
			t.Fatal(err)
		}
		if ok, _ := take(t, s, "new", 1, t0); !ok {
			t.Fatal("a key refunded before any take refuses its first take")
		}
		if ok, _ := take(t, s, "new", 1, t0); ok {
			t.Fatal("a refund on an unused key made room below zero: two takes passed a limit of 1")
		}
		s.RefundThrottle(ctx, "k", t0.Add(window))
		if ok, _ := take(t, s, "k", 2, t0); ok {
			t.Fatal("a refund after the window reached into it")
		}
	})
	t.Run("sweep", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		take(t, s, "a", 1, t0)
		s.TakeThrottle(ctx, "c", 1, 2*window, t0)
		s.RememberLoginAddress(ctx, "old", t0.Add(window))
		s.RememberLoginAddress(ctx, "new", t0.Add(2*window))
		removed, err := s.SweepThrottle(ctx, t0.Add(window))
		if err != nil || removed != 2 {
			t.Fatalf("sweep removed %d, %v; want window a and address old", removed, err)
		}
		if ok, _ := take(t, s, "c", 1, t0.Add(window)); ok {
			t.Fatal("sweep took a live window")
		}
		if known, _ := s.IsLoginAddress(ctx, "new", t0.Add(window)); !known {
			t.Fatal("sweep took a live address")
		}
	})
	t.Run("login addresses expire and are renewed", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if known, err := s.IsLoginAddress(ctx, "a", t0); err != nil || known {
			t.Fatalf("unknown address: %v %v", known, err)
		}
		if err := s.RememberLoginAddress(ctx, "a", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if known, _ := s.IsLoginAddress(ctx, "a", t0.Add(time.Minute)); !known {
			t.Fatal("a remembered address is unknown")
		}
		if known, _ := s.IsLoginAddress(ctx, "a", t0.Add(time.Hour)); known {
			t.Fatal("an expired address is known")
		}
		s.RememberLoginAddress(ctx, "a", t0.Add(2*time.Hour))
		if known, _ := s.IsLoginAddress(ctx, "a", t0.Add(time.Hour)); !known {
			t.Fatal("remembering again did not renew the address")
		}
	})
	t.Run("concurrent takes never pass the limit", func(t *testing.T) {
		s := open(t)
		const limit, callers = 10, 60
		var granted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, _, err := s.TakeThrottle(t.Context(), "k", limit, window, t0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					granted.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := granted.Load(); n != limit {
			t.Fatalf("%d of %d concurrent takes granted, want exactly %d", n, callers, limit)
		}
	})
}
