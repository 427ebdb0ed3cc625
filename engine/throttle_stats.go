package engine

// ThrottleStats is what a Throttle saw of the objects in flight: how many it let run at once
// before the provider first throttled, and after. A zero value means nothing was admitted.
type ThrottleStats struct {
	PeakBefore int // the most objects in flight at once before the window first shrank
	// PeakThrottled is the most objects in flight at the admission of an object while the
	// window was below its maximum (objects admitted earlier and still running included);
	// 0 when no object was admitted then.
	PeakThrottled int
	Throttled     int // objects admitted while the window was below its maximum
}

// noteAdmission records the object just admitted; t.mu must be held.
func (t *Throttle) noteAdmission() {
	switch {
	case t.cuts == 0:
		t.seen.PeakBefore = max(t.seen.PeakBefore, t.inflight)
	case int(t.limit) < t.max:
		t.seen.Throttled++
		t.seen.PeakThrottled = max(t.seen.PeakThrottled, t.inflight)
	}
}

// Stats returns what the Throttle saw of the objects in flight so far.
func (t *Throttle) Stats() ThrottleStats {
	if t == nil {
		return ThrottleStats{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}
