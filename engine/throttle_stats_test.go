package engine

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/storage"
)

// A SlowDown shrinks the objects in flight: before it, the Throttle ran as many as its
// maximum; after it, objects are admitted only while fewer than the shrunken window run.
func TestSlowDownThrottleStats(t *testing.T) {
	ctx := context.Background()
	th := NewThrottle(4, zerolog.Nop())
	for range 4 {
		if !th.Acquire(ctx) {
			t.Fatal("window 4 refused an object")
		}
	}
	th.ObserveRequest("GetObject", storage.OutcomeThrottled, 0) // window 2, 4 still in flight
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	th.Release()
	th.Release()
	if th.Acquire(cancelled) {
		t.Fatal("admitted a third object at window 2")
	}
	th.Release() // 1 in flight
	if !th.Acquire(ctx) {
		t.Fatal("window 2 refused a second object")
	}
	if th.Acquire(cancelled) {
		t.Fatal("admitted a third object at window 2")
	}
	st := th.Stats()
	if st.PeakBefore != 4 || st.PeakThrottled != 2 || st.Throttled != 1 {
		t.Fatalf("stats %+v, want PeakBefore 4, PeakThrottled 2, Throttled 1", st)
	}
	var nilThrottle *Throttle
	if nilThrottle.Stats() != (ThrottleStats{}) {
		t.Fatal("nil throttle has stats")
	}
}
