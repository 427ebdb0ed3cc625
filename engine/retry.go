package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/s3sync/s3sync/storage"
)

// Retry defaults: those of [sync] retries and of CopyOptions.BackoffBase and BackoffMax.
const (
	defaultRetries     = 10
	defaultBackoffBase = 500 * time.Millisecond
	defaultBackoffMax  = 30 * time.Second
)

// retryPolicy is the one retry policy of the engine: every request to a bucket (a copy
// attempt, verify's HEADs, fix-acl's PutObjectAcl, the server-side probe, aborting an upload)
// goes through do. A request that failed with a retryable error is tried again after a wait
// that doubles from base up to max, with jitter so that throttled workers do not come back
// in lockstep, at most retries times. What is retryable is storage's to say
// (storage.IsRetryable: throttling such as 429 and 503 SlowDown, 5xx, timeouts, broken
// connections); a caller may widen it (the copier also retries a corrupted body). An error
// that is not retryable is permanent and returned at once, and so is every error once ctx is
// done: a cancelled request is never retried.
//
// No request of the engine is told by the server how long to wait (the S3 SDK's errors carry
// no Retry-After, and storage does not read one), so the wait is always the backoff.
type retryPolicy struct {
	retries   int           // retries after the first attempt; 0 = none
	base, max time.Duration // the first wait, and the longest
	// retryable reports whether another attempt may succeed; nil = storage.IsRetryable.
	retryable func(error) bool
	// onRetry, when set, is called before each wait with the attempt that failed (1 = the
	// first), the wait and its error: for counting and logging.
	onRetry func(attempt int, wait time.Duration, err error)
}

// defaultRetry is the policy of a single request outside the copier: [sync] retries' default
// number of retries, with the copier's default backoff.
func defaultRetry() retryPolicy { return requestRetry(0) }

// requestRetry is the policy of a single request outside the copier with the given number of
// retries, as the Retries option of verify and fix-acl gives it: 0 = the default (10),
// negative = none.
func requestRetry(retries int) retryPolicy {
	switch {
	case retries == 0:
		retries = defaultRetries
	case retries < 0:
		retries = 0
	}
	return retryPolicy{retries: retries, base: defaultBackoffBase, max: defaultBackoffMax}
}

// fastRetries, when set, cuts every wait of every retryPolicy to at most a millisecond, so
// that tests against a throttling server run fast. Only tests set it (useFastRetries).
var fastRetries atomic.Bool

// do calls op until it succeeds, fails with an error that is not retryable, ctx is done, or
// the retries run out. It returns how many times it called op and op's last error; when ctx
// ends during a wait, it returns at once with ctx's error.
func (p retryPolicy) do(ctx context.Context, op func() error) (attempts int, err error) {
	retryable := p.retryable
	if retryable == nil {
		retryable = storage.IsRetryable
	}
	for attempt := 0; ; attempt++ {
		err = op()
		attempts++
		if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) || attempt >= p.retries || !retryable(err) {
			return attempts, err
		}
		wait := backoff(p.base, p.max, attempt)
		if fastRetries.Load() {
			wait = min(wait, time.Millisecond)
		}
		if p.onRetry != nil {
			p.onRetry(attempts, wait, err)
		}
		if !sleep(ctx, wait) {
			return attempts, ctx.Err()
		}
	}
}

// backoff is the wait before retry number attempt+1: exponential from base, capped at max,
// with jitter so throttled workers do not return in lockstep.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 20)
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d, or returns false early when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
