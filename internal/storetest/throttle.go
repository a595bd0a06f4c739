package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// RunThrottle checks the throttle counters. open must return a new,
// migrated, empty store on each call.
func RunThrottle(t *testing.T, open func(t *testing.T) bookstore.ThrottleStore) {
	const window = 15 * time.Minute
	t.Run("counts within a window, restarts after it", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for i := 1; i <= 3; i++ {
			n, reset, err := s.HitThrottle(ctx, "k", window, t0.Add(time.Duration(i)*time.Second))
			if err != nil || n != i || !reset.Equal(t0.Add(time.Second+window)) {
				t.Fatalf("hit %d: %d %v %v", i, n, reset, err)
			}
		}
		if n, reset, err := s.ThrottleCount(ctx, "k", t0.Add(time.Minute)); err != nil || n != 3 || !reset.Equal(t0.Add(time.Second+window)) {
			t.Fatalf("count: %d %v %v", n, reset, err)
		}
		if n, _, err := s.ThrottleCount(ctx, "other", t0); err != nil || n != 0 {
			t.Fatalf("unknown key: %d %v", n, err)
		}
		later := t0.Add(time.Second + window)
		if n, _, _ := s.ThrottleCount(ctx, "k", later); n != 0 {
			t.Fatalf("count after the window: %d", n)
		}
		if n, reset, _ := s.HitThrottle(ctx, "k", window, later); n != 1 || !reset.Equal(later.Add(window)) {
			t.Fatalf("hit after the window: %d %v", n, reset)
		}
	})
	t.Run("clear and sweep", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		s.HitThrottle(ctx, "a", window, t0)
		s.HitThrottle(ctx, "b", window, t0)
		s.HitThrottle(ctx, "c", 2*window, t0)
		if err := s.ClearThrottle(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := s.ThrottleCount(ctx, "a", t0); n != 0 {
			t.Fatalf("cleared key counts %d", n)
		}
		removed, err := s.SweepThrottle(ctx, t0.Add(window))
		if err != nil || removed != 1 {
			t.Fatalf("sweep removed %d, %v; want b alone", removed, err)
		}
		if n, _, _ := s.ThrottleCount(ctx, "c", t0.Add(window)); n != 1 {
			t.Fatalf("sweep took a live window: %d", n)
		}
	})
	t.Run("concurrent hits all count", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := s.HitThrottle(t.Context(), "k", window, t0); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n, _, _ := s.ThrottleCount(t.Context(), "k", t0); n != 20 {
			t.Fatalf("%d of 20 concurrent hits counted", n)
		}
	})
}
