package engine

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

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
	// average; else it is cancelled and retried like a timeout. 0 = what the source and
	// destination clients ask for (storage.Config.MinRate, MinTime), else storage's defaults
	// (16 KiB/s, 60 s). A bandwidth limit (LimitBandwidth) lowers the rate to half of each
	// worker's share.
	MinRate int64
	MinTime time.Duration

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
	mon := opts.Monitor

	// work is cancelled after the grace period, on Abort, or when the checkpoint fails.
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		mon.setPhase(PhaseStopping, "")
		opts.Log.Warn().Dur("grace", opts.Grace).Msg("stopping: no new objects; letting in-flight copies finish (press Ctrl-C again to stop at once)")
		t := time.NewTimer(opts.Grace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-opts.Abort:
		case <-finished:
		}
		cancelWork()
	}()

	c := &copier{src: src, dst: dst, retries: opts.Retries, base: opts.BackoffBase, max: opts.BackoffMax, log: opts.Log, retried: &mon.retries, noContentMD5: opts.NoContentMD5, server: opts.ServerSide, privateACL: opts.PrivateACL, uploads: db}
	c.minRate, c.minTime = transferLimits(opts, src, dst)
	jobs := make(chan checkpoint.Object)
	results := make(chan result, opts.Concurrency)

	var g errgroup.Group
	var producerErr error
	var stopOnce sync.Once
	var stopErr error // an error every object would get: the run ends with it
	g.Go(func() error {
		defer close(jobs)
		producerErr = produceLocalFirst(ctx, work, db, opts, jobs)
		return nil
	})
	for i := 0; i < opts.Concurrency; i++ {
		g.Go(func() error {
			for o := range jobs {
				if !opts.Throttle.Acquire(work) {
					continue // cancelled: the object stays pending
				}
				mon.inflight.Add(1)
				u, ok, stop := c.copyObject(work, o)
				mon.inflight.Add(-1)
				opts.Throttle.Release()
				if ok {
					results <- result{Update: u, kind: o.Kind, size: o.Size, key: RowOf(o).Key}
				}
				if stop != nil {
					stopOnce.Do(func() {
						stopErr = fmt.Errorf("stopped, every object would fail the same way: %w", stop)
						cancelWork()
					})
				}
			}
			return nil
		})
	}
	go func() {
		_ = g.Wait()
		close(results)
	}()

	// The writer: this goroutine commits results in batches, never reporting an object
	// before its transaction commits.
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
				cancelWork()
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
loop:
	for {
		select {
		case u, ok := <-results:
			if !ok {
				break loop
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
	flush()
	mon.sample(time.Now())

	sum := prog.summary()
	sum.Retries = mon.retries.Load()
	sum.Elapsed = time.Since(start)
	sum.Interrupted = ctx.Err() != nil
	for _, err := range []error{producerErr, stopErr} {
		if writeErr == nil && err != nil {
			writeErr = err
		}
	}
	if left, err := pendingCount(db, opts.Kinds); err == nil {
		sum.Left = left
	} else if writeErr == nil {
		writeErr = err
	}
	switch {
	case writeErr != nil:
		mon.setPhase(PhaseFailed, writeErr.Error())
	case sum.Interrupted:
		mon.setPhase(PhaseInterrupted, "")
	default:
		mon.setPhase(PhaseDone, "")
	}
	prog.report(true)
	return sum, writeErr
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
	def(&o.BackoffBase, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
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
		if len(kinds) == 0 || containsString(kinds, kind) {
			n += byStatus[checkpoint.Pending].Objects
		}
	}
	return n, nil
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
