package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// Source is the bucket objects are read from; *storage.Client implements it.
type Source interface {
	// Get opens key for streaming; the caller closes the body. A missing key gives an error
	// for which storage.IsNotFound is true.
	Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error)
}

// Destination is the bucket objects are written to; *storage.Client implements it.
type Destination interface {
	// Put stores exactly size bytes of body under key, or fails and leaves nothing behind.
	Put(ctx context.Context, key string, body io.Reader, size int64, opts storage.PutOptions) error
}

// CopyOptions tunes a copy run. Zero values take the defaults named on each field.
type CopyOptions struct {
	Concurrency int      // parallel copies, 0 = 16
	Kinds       []string // kinds to copy, empty = all
	Limit       int64    // stop after taking this many objects, 0 = no limit
	Retries     int      // retries after the first attempt for retryable errors

	// NoContentMD5 stops sending a source ETag that is a plain MD5 as Content-MD5; needed
	// when the source's ETags are not MD5s (SSE-KMS, SSE-C). Zero value: send it.
	NoContentMD5 bool

	// ServerSide, when set, copies every object inside the provider instead of streaming it
	// (see ChooseServerSide); nil = stream through s3sync.
	ServerSide ServerSideCopier
	// PrivateACL is the canned ACL written for objects of suspended accounts
	// (checkpoint.Object.Private) instead of the destination's, e.g. "private" under
	// acl_policy = mastodon; "" = the destination's ACL for every object. A destination
	// configured to send no ACL sends none either way.
	PrivateACL string
	// Throttle, when set, bounds the objects in flight by its AIMD window, which shrinks when
	// the provider throttles; nil = always Concurrency.
	Throttle *Throttle

	// MinRate (bytes per second) and MinTime bound each attempt at one object: it may take
	// MinTime plus its size at MinRate, and after MinTime must move its bytes at MinRate on
	// average; else it is cancelled and retried like a timeout. 0 = DefaultMinRate (16 KiB/s)
	// and DefaultMinTime (60 s). A bandwidth limit (LimitBandwidth) lowers the rate to half of
	// each worker's share.
	MinRate int64
	MinTime time.Duration

	// KeepNewerSince, when not zero, asks the destination before writing an object s3sync
	// never tried before, and leaves a version there that Mastodon wrote after the switch:
	// other content than the source's, written after the source object and after
	// KeepNewerSince (when following began). The object is then done and Found. s3sync's own
	// earlier copies are never kept this way: an object it tried before is written again (so
	// retry-failed repairs what verify flags), and so is an original whose size at the
	// destination differs from the database's (a short copy a killed upload left). Zero: write
	// without asking (one request less).
	KeepNewerSince time.Time
	// Following marks a pass of copy --follow (Follow sets it): when the pending objects run
	// out the run is PhaseFollowing, not PhaseDone, and the status file still says running.
	Following bool
	// NotYetGrace keeps an object absent at the source and at the destination pending while
	// it was planned less than this long ago, and not before NotYetSince: a record that
	// following found, whose files Mastodon may still be processing. The next Copy looks for
	// it again. 0 = missing at once.
	NotYetGrace time.Duration
	NotYetSince time.Time

	BackoffBase time.Duration // first retry delay, 0 = 500ms; doubles per retry, with jitter
	BackoffMax  time.Duration // longest retry delay, 0 = 30s

	// Grace is how long in-flight copies may finish after ctx is cancelled, 0 = 5s. Closing
	// Abort cuts it short (a second Ctrl-C).
	Grace time.Duration
	Abort <-chan struct{}

	FlushEvery    time.Duration // longest wait before results are committed, 0 = 250ms
	FlushSize     int           // results per checkpoint transaction, 0 = 500
	ProgressEvery time.Duration // progress log and status file interval, 0 = 10s
	StatusFile    string        // where the status snapshot for `report` goes, "" = none
	StatusAddr    string        // the status server's address, recorded in the status file; "" = none
	Command       string        // the command recorded in the status file, "" = "copy"

	// Monitor, when set, receives the run's live state (for progress bars and the status
	// server); nil = Copy keeps its own.
	Monitor *Monitor
	// QuietProgress turns the periodic progress log lines off (a progress bar shows progress
	// instead); the status file is still written.
	QuietProgress bool

	Log zerolog.Logger
}

// CopySummary is what a copy run did.
type CopySummary struct {
	Done, Failed, Missing int64 // objects that reached each status in this run
	Found                 int64 // of Done, those the destination held already (not copied)
	Bytes                 int64 // bytes written to the destination
	Retries               int64 // retried requests
	Left                  int64 // objects still pending at the end
	Elapsed               time.Duration
	Interrupted           bool // stopped by ctx before the work ran out
}

// Copy copies pending objects from src to dst with a pool of workers, local media before
// cached remote media (produceLocalFirst). Each object ends as
// done (only after dst accepted it), missing (absent under every candidate key) or failed
// (with the error); results are committed in batches. When ctx is cancelled Copy stops taking
// work, lets in-flight copies finish for opts.Grace, commits what finished, and returns with
// Interrupted set. A failed object is data; only checkpoint errors, and an error that every
// object would get (see storage.IsBucketWide), end the run with an error.
func Copy(ctx context.Context, db *checkpoint.DB, src Source, dst Destination, opts CopyOptions) (CopySummary, error) {
	opts = opts.withDefaults()
	start := time.Now()
	prog, err := newProgress(db, opts)
	if err != nil {
		opts.Monitor.setPhase(PhaseFailed, err.Error())
		return CopySummary{}, err
	}
	work, endWork := workContext(ctx, opts)
	defer endWork()
	c := newCopier(db, src, dst, opts)
	results := make(chan result, opts.Concurrency)
	var copyErr error
	go func() {
		defer close(results)
		copyErr = copyPending(ctx, work, endWork, db, c, opts, results)
	}()
	// commitResults returns once results is closed: the copiers have all ended.
	commitErr := commitResults(db, results, prog, opts, endWork)
	endWork()
	return finishCopy(db, prog, opts, start, ctx.Err() != nil, commitErr, copyErr)
}

// workContext returns the context the copies run under and the function that ends it. It
// ends opts.Grace after ctx does (in-flight copies may finish; no new ones start), at once
// when opts.Abort closes (a second Ctrl-C), or when end is called (the run is over, the
// checkpoint failed, or every object would fail). end also waits for the goroutine that
// watches ctx; it may be called more than once.
func workContext(ctx context.Context, opts CopyOptions) (work context.Context, end func()) {
	work, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
		case <-work.Done():
			return
		}
		opts.Monitor.setPhase(PhaseStopping, "")
		opts.Log.Warn().Dur("grace", opts.Grace).Msg("stopping: no new objects; letting in-flight copies finish (press Ctrl-C again to stop at once)")
		t := time.NewTimer(opts.Grace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-opts.Abort:
		case <-work.Done():
		}
		cancel()
	}()
	return work, func() {
		cancel()
		<-watched
	}
}

// newCopier returns the copier of a run with opts, retrying each object as opts say.
func newCopier(db *checkpoint.DB, src Source, dst Destination, opts CopyOptions) *copier {
	c := &copier{
		src: src, dst: dst, log: opts.Log, retried: &opts.Monitor.retries,
		retry:        retryPolicy{retries: opts.Retries, base: opts.BackoffBase, max: opts.BackoffMax, retryable: copyRetryable},
		noContentMD5: opts.NoContentMD5, server: opts.ServerSide, privateACL: opts.PrivateACL, uploads: db,
		keepNewerSince: opts.KeepNewerSince, notYetGrace: opts.NotYetGrace, notYetSince: opts.NotYetSince,
	}
	// An object absent at the source may be at the destination already (Mastodon's uploads
	// after the switch): the destination is asked when it can answer.
	if h, ok := dst.(Header); ok {
		c.dstHead = h
	}
	c.minRate, c.minTime = transferLimits(opts, src)
	return c
}

// copyPending copies the pending objects (local media first, see produceLocalFirst) with
// opts.Concurrency workers, each object within the window of opts.Throttle, and sends every
// result to results. Handing out objects stops when ctx or work ends; the copies themselves
// run under work, so that those in flight may finish within the grace period. An error every
// object would get ends work (through endWork) and is returned, as is a checkpoint error of
// the producer; cancellation is not an error here.
func copyPending(ctx, work context.Context, endWork func(), db *checkpoint.DB, c *copier, opts CopyOptions, results chan<- result) error {
	handOut, stopHandOut := context.WithCancel(work)
	defer stopHandOut()
	defer context.AfterFunc(ctx, stopHandOut)()
	mon := opts.Monitor
	err := runPool(handOut, opts.Concurrency,
		func(_ context.Context, send func(checkpoint.Object) bool) error {
			return produceLocalFirst(db, opts, send)
		},
		func(_ context.Context, o checkpoint.Object) error {
			if !opts.Throttle.Acquire(work) {
				return nil // cancelled: the object stays pending
			}
			mon.inflight.Add(1)
			u, ok, stop := c.copyObject(work, o)
			mon.inflight.Add(-1)
			opts.Throttle.Release()
			if ok {
				results <- result{Update: u, kind: o.Kind, size: o.Size, key: RowOf(o).Key}
			}
			if stop != nil {
				endWork()
				return fmt.Errorf("stopped, every object would fail the same way: %w", stop)
			}
			return nil
		})
	if err == handOut.Err() {
		return nil // the work ran out (nil), or only cancellation ended it
	}
	return err
}

// commitResults commits the results in batches (opts.FlushSize, at least every
// opts.FlushEvery) until results is closed, never reporting an object to the monitor before
// its transaction commits; meanwhile it samples the rates and reports progress. A checkpoint
// error ends work (through endWork) and is returned; the results after it are dropped, their
// objects stay pending.
func commitResults(db *checkpoint.DB, results <-chan result, prog *progress, opts CopyOptions, endWork func()) error {
	mon := opts.Monitor
	var writeErr error
	batch := make([]result, 0, opts.FlushSize)
	updates := make([]checkpoint.Update, 0, opts.FlushSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if writeErr == nil {
			updates = updates[:0]
			for _, r := range batch {
				updates = append(updates, r.Update)
			}
			if err := db.Apply(updates); err != nil {
				writeErr = fmt.Errorf("checkpoint: %w", err)
				endWork()
			} else {
				mon.committed(batch, time.Now())
			}
		}
		batch = batch[:0]
	}
	flushTick := time.NewTicker(opts.FlushEvery)
	defer flushTick.Stop()
	progTick := time.NewTicker(opts.ProgressEvery)
	defer progTick.Stop()
	sampleTick := time.NewTicker(time.Second)
	defer sampleTick.Stop()
	prog.report(false)
	for {
		select {
		case u, ok := <-results:
			if !ok {
				flush()
				mon.sample(time.Now())
				return writeErr
			}
			batch = append(batch, u)
			if len(batch) >= opts.FlushSize {
				flush()
			}
		case <-flushTick.C:
			flush()
		case <-progTick.C:
			prog.report(false)
		case t := <-sampleTick.C:
			mon.sample(t)
		}
	}
}

// finishCopy sums up a run that has ended, sets the monitor's final phase and writes the final
// status. Its error is the first of the checkpoint's (commitErr), the copy's (copyErr: the
// producer's, or one every object would get) and the count of what is left.
func finishCopy(db *checkpoint.DB, prog *progress, opts CopyOptions, start time.Time, interrupted bool, commitErr, copyErr error) (CopySummary, error) {
	mon := opts.Monitor
	sum := prog.summary()
	sum.Retries = mon.retries.Load()
	sum.Elapsed = time.Since(start)
	sum.Interrupted = interrupted
	err := commitErr
	if err == nil {
		err = copyErr
	}
	if left, lerr := pendingCount(db, opts.Kinds); lerr == nil {
		sum.Left = left
	} else if err == nil {
		err = lerr
	}
	switch {
	case err != nil:
		mon.setPhase(PhaseFailed, err.Error())
	case sum.Interrupted:
		mon.setPhase(PhaseInterrupted, "")
	case opts.Following:
		mon.setPhase(PhaseFollowing, "")
	default:
		mon.setPhase(PhaseDone, "")
	}
	prog.report(true)
	return sum, err
}

// result is a copy result on its way to the writer, with what the monitor needs to know.
type result struct {
	checkpoint.Update
	kind string
	size int64  // the size the database knows, counted under pending until now
	key  string // the computed key, for failure reports
}

func (o CopyOptions) withDefaults() CopyOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.FlushSize <= 0 {
		o.FlushSize = 500
	}
	if o.Monitor == nil {
		o.Monitor = NewMonitor()
	}
	if o.Command == "" {
		o.Command = "copy"
	}
	def(&o.BackoffBase, defaultBackoffBase)
	def(&o.BackoffMax, defaultBackoffMax)
	def(&o.Grace, 5*time.Second)
	def(&o.FlushEvery, 250*time.Millisecond)
	def(&o.ProgressEvery, 10*time.Second)
	return o
}

// pendingCount is the number of pending objects of the given kinds (all when empty).
func pendingCount(db *checkpoint.DB, kinds []string) (int64, error) {
	counts, err := db.Counts()
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	var n int64
	for kind, byStatus := range counts {
		if len(kinds) == 0 || slices.Contains(kinds, kind) {
			n += byStatus[checkpoint.Pending].Objects
		}
	}
	return n, nil
}
