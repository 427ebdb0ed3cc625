package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/s3sync/s3sync/storage"
)

// Throttle is an AIMD (additive increase, multiplicative decrease) window on the number of
// objects copied at once. Every request the provider answers with throttling (503 SlowDown,
// 429 and the like, see storage.OutcomeThrottled) halves the window, at most once per window
// of requests (the requests already under way when it shrank do not shrink it again); every
// successful request widens it by 1/window, so it grows by about one object per window of
// successes, back up to the configured concurrency. Both are logged. It is a storage.Observer:
// give it to the storage clients, and to CopyOptions.Throttle. Its methods are safe for
// concurrent use; a nil *Throttle lets everything through.
type Throttle struct {
	log zerolog.Logger

	mu       sync.Mutex
	max      int
	limit    float64       // the window, 1..max
	inflight int           // objects admitted and not yet released
	sinceCut int           // requests observed since the window last shrank
	cutAt    int           // the window just before it last shrank; 0 = never shrank
	lowest   int           // the smallest window so far
	cuts     int           // how many times it shrank
	changed  chan struct{} // closed and replaced whenever the window widens or a slot frees
	seen     ThrottleStats // objects in flight, for Stats
}

// NewThrottle returns a Throttle whose window starts at, and never exceeds, max (at least 1).
func NewThrottle(max int, log zerolog.Logger) *Throttle {
	max = maxInt(max, 1)
	return &Throttle{log: log, max: max, limit: float64(max), lowest: max, changed: make(chan struct{})}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Acquire waits until the window admits one more object, and returns false when ctx ends
// first. Every true return needs one Release.
func (t *Throttle) Acquire(ctx context.Context) bool {
	if t == nil {
		return ctx.Err() == nil
	}
	for {
		t.mu.Lock()
		if t.inflight < int(t.limit) {
			t.inflight++
			t.noteAdmission()
			t.mu.Unlock()
			return true
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// Release gives back a slot taken by Acquire.
func (t *Throttle) Release() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.inflight--
	t.wake()
	t.mu.Unlock()
}

// wake tells waiting Acquire calls to look again; t.mu must be held.
func (t *Throttle) wake() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// ObserveRequest implements storage.Observer: a throttled answer shrinks the window, a
// successful one widens it.
func (t *Throttle) ObserveRequest(op, outcome string, _ time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sinceCut++
	switch outcome {
	case storage.OutcomeThrottled:
		before := int(t.limit)
		if t.cuts > 0 && t.sinceCut < t.cutAt {
			return // answers to requests sent before the last cut
		}
		t.limit = float64(maxInt(before/2, 1))
		t.cutAt, t.sinceCut = before, 0
		t.cuts++
		t.lowest = min(t.lowest, int(t.limit))
		if int(t.limit) != before {
			t.log.Warn().Str("op", op).Int("from", before).Int("to", int(t.limit)).
				Msg(fmt.Sprintf("provider is throttling (SlowDown): concurrency %d → %d, recovering gradually", before, int(t.limit)))
		}
	case storage.OutcomeOK:
		before := int(t.limit)
		if before >= t.max {
			return
		}
		t.limit = min(t.limit+1/t.limit, float64(t.max))
		if now := int(t.limit); now > before {
			t.wake()
			if now == t.max {
				t.log.Info().Int("concurrency", now).Msg(fmt.Sprintf("throttling over: concurrency back to %d", now))
			} else {
				t.log.Debug().Int("concurrency", now).Msg("concurrency raised")
			}
		}
	}
}

// Limit returns the current window.
func (t *Throttle) Limit() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.limit)
}

// Lowest returns the smallest window so far, and how many times it shrank.
func (t *Throttle) Lowest() (window, cuts int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lowest, t.cuts
}

// Observers returns one storage.Observer telling each non-nil one of obs, in order.
func Observers(obs ...storage.Observer) storage.Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []storage.Observer

func (m multiObserver) ObserveRequest(op, outcome string, d time.Duration) {
	for _, o := range m {
		o.ObserveRequest(op, outcome, d)
	}
}

// NewRequestLimiter returns a limiter of rps requests per second with a burst of a tenth of a
// second's worth (at least 1), so that even a short interval stays near the rate; rps <= 0
// returns nil (no limit).
func NewRequestLimiter(rps float64) *rate.Limiter {
	if rps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(rps), RequestBurst(rps))
}

// RequestBurst is the burst of NewRequestLimiter(rps).
func RequestBurst(rps float64) int { return maxInt(int(math.Ceil(rps/10)), 1) }

// LimitBandwidth returns src with every body it returns read at no more than bytesPerSecond
// in all (a streamed copy writes what it reads, so this bounds both sides); bytesPerSecond
// <= 0 returns src unchanged. A server-side copy moves no bytes through s3sync and is not
// limited.
func LimitBandwidth(src Source, bytesPerSecond int64) Source {
	if bytesPerSecond <= 0 {
		return src
	}
	burst := int(min(max(bytesPerSecond/8, 4096), 1<<20))
	return limitedSource{src, rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
}

type limitedSource struct {
	Source
	lim *rate.Limiter
}

func (s limitedSource) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	body, info, err := s.Source.Get(ctx, key)
	if err != nil {
		return body, info, err
	}
	return &limitedReader{ctx: ctx, r: body, lim: s.lim}, info, nil
}

type limitedReader struct {
	ctx context.Context
	r   io.ReadCloser
	lim *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if len(p) > l.lim.Burst() {
		p = p[:l.lim.Burst()]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.lim.WaitN(l.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (l *limitedReader) Close() error { return l.r.Close() }
