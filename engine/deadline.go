package engine

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/human"
)

// An attempt at copying one object may take minTime, plus its size at minRate; after minTime it
// must also keep moving the object's bytes at minRate on average (counted from minTime, with
// the bytes moved before as credit). Otherwise it is cancelled and retried like a timeout. The
// idle timeout of the storage clients (a connection silent for 2 minutes) cannot catch a server
// that sends a byte every few seconds, forever; this does. The average is what makes it hold
// when the server also announces a huge Content-Length to stretch the deadline.

// DefaultMinRate and DefaultMinTime bound one attempt at copying an object when
// CopyOptions.MinRate and MinTime are 0 ([sync] min_rate and min_time): it may take
// DefaultMinTime plus its size at DefaultMinRate. 16 KiB/s per object is what 16 workers get
// from a 2 Mbit/s link: far below any real transfer, far above a server that sends a byte now
// and then.
const (
	DefaultMinRate = 16 << 10 // bytes per second
	DefaultMinTime = time.Minute
)

// transferLimits returns the per-attempt bounds of a copy: opts', else the defaults. Under a
// bandwidth limit (LimitBandwidth) the minimum rate is lowered to half of each worker's share,
// so that the limit itself never times a copy out.
func transferLimits(opts CopyOptions, src Source) (rate float64, minTime time.Duration) {
	r, t := opts.MinRate, opts.MinTime
	if r <= 0 {
		r = DefaultMinRate
	}
	if t <= 0 {
		t = DefaultMinTime
	}
	rate = float64(r)
	if ls, ok := src.(limitedSource); ok {
		share := float64(ls.lim.Limit()) / float64(max(opts.Concurrency, 1)) / 2
		rate = min(rate, max(share, 1))
	}
	return rate, t
}

// watch measures one attempt against the bounds.
type watch struct {
	start    time.Time
	rate     float64 // bytes per second
	minTime  time.Duration
	size     atomic.Int64 // the object's size once the source told it; -1 before
	moved    atomic.Int64 // body bytes read from the source
	streamed atomic.Bool  // the bytes pass through s3sync (not a server-side copy)
}

func newWatch(rate float64, minTime time.Duration) *watch {
	w := &watch{start: time.Now(), rate: rate, minTime: minTime}
	w.size.Store(-1)
	return w
}

// expect records the size the source announced, and whether the bytes pass through s3sync
// (then their pace is watched too).
func (w *watch) expect(size int64, streamed bool) {
	w.size.Store(size)
	w.streamed.Store(streamed)
}

// count returns r counting what is read from it.
func (w *watch) count(r io.Reader) io.Reader { return &countingReader{r: r, n: &w.moved} }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// allowed is the longest an attempt at size bytes may take.
func (w *watch) allowed(size int64) time.Duration {
	return w.minTime + time.Duration(float64(size)/w.rate*float64(time.Second))
}

// overdue returns the timeout error when the attempt is out of bounds at now, else nil.
func (w *watch) overdue(now time.Time) *attemptTimeout {
	elapsed := now.Sub(w.start)
	if elapsed <= w.minTime {
		return nil
	}
	size, moved, streamed := w.size.Load(), w.moved.Load(), w.streamed.Load()
	e := &attemptTimeout{elapsed: elapsed, size: size, moved: moved, streamed: streamed, rate: w.rate, minTime: w.minTime}
	if size >= 0 && elapsed > w.allowed(size) {
		return e
	}
	if size < 0 || streamed {
		need := (elapsed - w.minTime).Seconds() * w.rate
		if size >= 0 {
			need = min(need, float64(size))
		}
		if float64(moved) < need {
			return e
		}
	}
	return nil
}

// attemptTimeout is why an attempt was cancelled: it was too slow. Retryable, like any timeout.
type attemptTimeout struct {
	elapsed     time.Duration
	size, moved int64 // size -1: the source had not answered
	streamed    bool
	rate        float64
	minTime     time.Duration
}

func (e *attemptTimeout) Error() string {
	rate := human.Bytes(int64(e.rate)) + "/s"
	el := e.elapsed.Round(100 * time.Millisecond)
	switch {
	case e.size < 0:
		return fmt.Sprintf("timed out: the source had not answered after %s ([sync] min_time %s)", el, e.minTime)
	case !e.streamed:
		return fmt.Sprintf("timed out: the server-side copy of %s was not done after %s (allowed: %s plus the size at %s; [sync] min_time, min_rate)",
			human.Bytes(e.size), el, e.minTime, rate)
	}
	return fmt.Sprintf("timed out: %s of %s copied in %s, slower than the minimum of %s on average after the first %s ([sync] min_rate, min_time)",
		human.Bytes(e.moved), human.Bytes(e.size), el, rate, e.minTime)
}

// watchAttempt returns a context for one attempt, cancelled with an *attemptTimeout when w
// finds it out of bounds, and a function that ends the watch (call it when the attempt ends).
func watchAttempt(parent context.Context, w *watch) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	tick := min(time.Second, max(w.minTime/8, 10*time.Millisecond))
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if e := w.overdue(now); e != nil {
					cancel(e)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		cancel(nil)
	}
}

// sizeDisagreement is a source object whose Content-Length is not the size the database
// records for the original. A truncating proxy or a hostile server can answer short with a
// consistent length; the database's size is the one witness s3sync has. Retryable (a fresh
// GET may be whole), then failed with this message, never done.
type sizeDisagreement struct {
	key              string
	attachment       string
	source, database int64
}

func (e *sizeDisagreement) Error() string {
	return fmt.Sprintf("the source holds %d bytes under %s, but the database records %d for this original (%s_file_size); not copied: a short or substituted answer must not become done. If the source's object is whole, the database is wrong: correct %s_file_size, then run s3sync plan and s3sync retry-failed",
		e.source, e.key, e.database, e.attachment, e.attachment)
}

// checkSize compares the size the source announced for key with the database's, for an
// original whose size the database knows.
func checkSize(o checkpoint.Object, key string, size int64) error {
	if o.Style != "original" || o.Size <= 0 || size == o.Size {
		return nil
	}
	return &sizeDisagreement{key: key, attachment: o.Attachment, source: size, database: o.Size}
}
