package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runPool hands every item to exactly one worker, runs at most workers at once, and has ended
// them all when it returns.
func TestRunPoolEveryItemOnce(t *testing.T) {
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	var (
		mu           sync.Mutex
		seen         = map[int]int{}
		active, peak atomic.Int32
	)
	err := runPool(context.Background(), 4, sendEach(items), func(_ context.Context, i int) error {
		n := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if active.Load() != 0 {
		t.Error("a worker still runs after runPool returned")
	}
	if len(seen) != len(items) {
		t.Errorf("%d items handled, want %d", len(seen), len(items))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("item %d handled %d times", i, n)
		}
	}
	if p := peak.Load(); p > 4 || p < 1 {
		t.Errorf("%d workers at once, want 1 to 4", p)
	}
}

// The first error of a worker cancels the others' context, stops the producer, and is
// returned; so is the producer's.
func TestRunPoolFirstErrorStops(t *testing.T) {
	boom := errors.New("boom")
	var produced atomic.Int32
	produce := func(ctx context.Context, send func(int) bool) error {
		for i := 0; ; i++ {
			if !send(i) {
				return nil
			}
			produced.Add(1)
		}
	}
	err := runPool(context.Background(), 3, produce, func(ctx context.Context, i int) error {
		if i == 10 {
			return boom
		}
		if i > 10 {
			<-ctx.Done() // a request in flight sees the cancellation
		}
		return nil
	})
	if err != boom {
		t.Errorf("err = %v, want the worker's", err)
	}
	if n := produced.Load(); n > 20 {
		t.Errorf("the producer sent %d items after the error", n)
	}

	err = runPool(context.Background(), 3, func(context.Context, func(int) bool) error { return boom },
		func(context.Context, int) error { return nil })
	if err != boom {
		t.Errorf("err = %v, want the producer's", err)
	}
}

// A cancelled context stops the producer, even while every worker is busy, and is returned:
// a cancelled run never looks complete.
func TestRunPoolCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	var handled atomic.Int32
	err := runPool(ctx, 2, func(ctx context.Context, send func(int) bool) error {
		for i := 0; send(i); i++ {
		}
		return nil
	}, func(ctx context.Context, _ int) error {
		handled.Add(1)
		<-ctx.Done()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := handled.Load(); n > 3 {
		t.Errorf("%d items handled by 2 blocked workers", n)
	}
}
