package engine

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/storage"
)

// useFastRetries makes every retry wait at most a millisecond until the test ends.
func useFastRetries(t testing.TB) {
	t.Helper()
	fastRetries.Store(true)
	t.Cleanup(func() { fastRetries.Store(false) })
}

var (
	errThrottled = &storage.Error{Op: "head", Bucket: "b", Key: "k", Code: "SlowDown", Status: 503, Message: "Please reduce your request rate."}
	errDenied    = &storage.Error{Op: "head", Bucket: "b", Key: "k", Code: "AccessDenied", Status: 403}
)

// failing returns an op that fails with errs in turn, then succeeds, and counts its calls.
func failing(calls *int, errs ...error) func() error {
	return func() error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestRetryPolicy(t *testing.T) {
	useFastRetries(t)
	ctx := context.Background()
	policy := retryPolicy{retries: 3, base: time.Hour, max: time.Hour} // the fast knob makes each wait ≤ 1ms

	t.Run("succeeds after retryable errors", func(t *testing.T) {
		calls := 0
		var waits []time.Duration
		p := policy
		p.onRetry = func(attempt int, wait time.Duration, err error) {
			if attempt != len(waits)+1 || err == nil {
				t.Errorf("onRetry(%d, %s, %v)", attempt, wait, err)
			}
			waits = append(waits, wait)
		}
		attempts, err := p.do(ctx, failing(&calls, errThrottled, fmt.Errorf("s3 get: %w", syscall.ECONNRESET)))
		if err != nil || attempts != 3 || calls != 3 || len(waits) != 2 {
			t.Errorf("do = %d, %v after %d calls and %d waits; want success on the third attempt", attempts, err, calls, len(waits))
		}
		for _, w := range waits {
			if w > time.Millisecond {
				t.Errorf("waited %s with fast retries", w)
			}
		}
	})

	t.Run("gives up after the retries", func(t *testing.T) {
		calls := 0
		start := time.Now()
		attempts, err := policy.do(ctx, failing(&calls, errThrottled, errThrottled, errThrottled, errThrottled, errThrottled))
		if !errors.Is(err, errThrottled) || attempts != 4 || calls != 4 {
			t.Errorf("do = %d, %v after %d calls; want the throttling error after 1 + 3 attempts", attempts, err, calls)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("three waits of an hour took %s with fast retries", d)
		}
	})

	t.Run("no retries", func(t *testing.T) {
		calls := 0
		attempts, err := retryPolicy{}.do(ctx, failing(&calls, errThrottled))
		if !errors.Is(err, errThrottled) || attempts != 1 || calls != 1 {
			t.Errorf("do = %d, %v after %d calls; want one attempt", attempts, err, calls)
		}
	})

	t.Run("a permanent error is not retried", func(t *testing.T) {
		for _, perm := range []error{errDenied, errors.New("something else"), storage.ErrSizeMismatch} {
			calls := 0
			attempts, err := policy.do(ctx, failing(&calls, perm))
			if err != perm || attempts != 1 || calls != 1 {
				t.Errorf("%v: do = %d, %v after %d calls; want one attempt", perm, attempts, err, calls)
			}
		}
	})

	t.Run("the caller widens what is retryable", func(t *testing.T) {
		calls := 0
		p := policy
		p.retryable = func(err error) bool { return errors.Is(err, errDenied) }
		if attempts, err := p.do(ctx, failing(&calls, errDenied)); err != nil || attempts != 2 {
			t.Errorf("do = %d, %v; want success on the second attempt", attempts, err)
		}
	})

	t.Run("a context error is never retried", func(t *testing.T) {
		calls := 0
		p := policy
		p.retryable = func(error) bool { return true }
		attempts, err := p.do(ctx, failing(&calls, fmt.Errorf("wrapped: %w", context.Canceled)))
		if !errors.Is(err, context.Canceled) || attempts != 1 {
			t.Errorf("do = %d, %v; want one attempt", attempts, err)
		}
	})
}

// A cancelled context stops the policy at once: in the middle of a long wait, and before
// another attempt when the request failed because of it.
func TestRetryPolicyStopsOnCancel(t *testing.T) {
	policy := retryPolicy{retries: 10, base: time.Hour, max: time.Hour} // no fast knob: the waits are real

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	attempts, err := policy.do(ctx, failing(&calls, errThrottled, errThrottled))
	if !errors.Is(err, context.Canceled) || attempts != 1 || calls != 1 {
		t.Errorf("do = %d, %v after %d calls; want context.Canceled after one attempt", attempts, err, calls)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelling took %s to stop a wait of an hour", d)
	}

	ctx, cancel = context.WithCancel(context.Background())
	calls = 0
	attempts, err = policy.do(ctx, func() error {
		calls++
		cancel() // the request fails because its context ended, with a retryable-looking error
		return errThrottled
	})
	if !errors.Is(err, errThrottled) || attempts != 1 || calls != 1 {
		t.Errorf("do = %d, %v after %d calls; want one attempt", attempts, err, calls)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt := 0; attempt < 40; attempt++ {
		d := backoff(100*time.Millisecond, 2*time.Second, attempt)
		want := 100 * time.Millisecond << min(attempt, 20)
		if want > 2*time.Second || want <= 0 {
			want = 2 * time.Second
		}
		if d < want/2 || d > want {
			t.Errorf("attempt %d: %s not in [%s, %s]", attempt, d, want/2, want)
		}
	}
}
