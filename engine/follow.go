package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// Defaults of FollowOptions.
const (
	DefaultFollowInterval = 30 * time.Second
	DefaultRescanEvery    = 10 * time.Minute
	DefaultNotYetGrace    = 15 * time.Minute
	// MaxFollowPlanFailures is how many passes in a row may lose the database before Follow
	// gives up with the error (about 10 minutes at the default interval).
	MaxFollowPlanFailures = 20
)

// FollowOptions tunes Follow.
type FollowOptions struct {
	// Interval is the wait between the end of one pass and the start of the next; 0 = 30 s.
	Interval time.Duration
	// Until ends following this long after it started, with a final pass; 0 = only ctx ends it.
	Until time.Duration
	// RescanEvery is how often a pass also looks for replaced files (a record's
	// <attachment>_updated_at moving on), which takes a scan of each whole table because
	// Mastodon does not index those columns; the other passes read only new ids through the
	// primary key. 0 = 10 minutes.
	RescanEvery time.Duration
	// ReconcileEvery is how often a pass is a full reconciling plan instead, which marks the
	// objects of deleted records Stale; it reads every table whole. 0 = never.
	ReconcileEvery time.Duration

	// Plan is how each pass plans (kinds, page size, remote cache, log); Full and NewOnly are
	// Follow's to set.
	Plan PlanOptions
	// Copy is how each pass copies. Follow sets Following, and NotYetGrace when 0 (to
	// DefaultNotYetGrace); KeepNewerSince is as given for the first copy of the pending
	// objects (when an earlier run followed, the switch may have happened) and when following
	// began for every pass after it.
	Copy CopyOptions

	// OnPass, when set, is called after every pass, the first copy of the pending objects
	// included (FollowPass.N = 0).
	OnPass func(FollowPass)
}

// FollowPass is one pass of Follow.
type FollowPass struct {
	N          int           // 0 for the first copy of what was pending, then 1, 2, …
	Rescan     bool          // the pass looked for replaced files too
	Reconcile  bool          // the pass was a full, reconciling plan
	Final      bool          // the last pass, before Follow returns
	PlanFailed bool          // the database did not answer: the pass copied what was pending, and read nothing
	Records    int64         // records the pass's plan read
	Added      int64         // objects the pass's plan queued: new ones, and replaced files starting over
	Stale      int64         // objects the pass's plan marked stale
	Copied     CopySummary   // what the pass's copy did
	Took       time.Duration // the whole pass
	State      FollowState   // the state after the pass
}

// FollowSummary is what Follow did over all its passes.
type FollowSummary struct {
	Passes      int   // delta passes (the first copy not counted)
	Records     int64 // records read by the passes
	Added       int64 // objects added by the passes
	Done        int64 // objects done, over all copies
	Found       int64 // of Done, those the destination held already
	Failed      int64
	Missing     int64
	Bytes       int64
	Left        int64 // objects pending at the end
	Interrupted bool  // ended by ctx, not by Until
}

// Follow is `copy --follow`: it copies the pending objects, then keeps the destination
// current while Mastodon runs. Every Interval a pass plans what changed since the last one
// (PlanChanged: new records by the primary key; replaced files too every RescanEvery; a full
// reconciling plan every ReconcileEvery) and copies what it found. It ends when ctx does
// (Interrupted; the checkpoint is resumable as after any copy) or, with a final pass that
// also looks for replaced files, Until after it started.
//
// While following, Mastodon may be writing to the destination already (after the switch), so
// every pass asks the destination first (CopyOptions.KeepNewerSince) and never overwrites a newer
// object, an object absent at the source but present at the destination is done (Found), and
// one a pass found that is absent everywhere stays pending for NotYetGrace (Mastodon may be
// processing it).
func Follow(ctx context.Context, cat DeltaCatalog, db *checkpoint.DB, src Source, dst Destination, opts FollowOptions) (FollowSummary, error) {
	opts = opts.withDefaults()
	mon := opts.Copy.Monitor
	var sum FollowSummary
	var state FollowState
	start := time.Now()
	var deadline time.Time
	if opts.Until > 0 {
		deadline = start.Add(opts.Until)
	}
	lastRescan, lastReconcile := start, start
	planFailures := 0    // passes in a row whose plan lost the database
	quietRescan := false // a rescan is among the quiet passes in a row
	// Only objects the passes found are young records that may not be at the source yet: the
	// ones planned before following began are given up as missing at once, as by any copy.
	since, err := db.FollowedAt()
	if err != nil {
		return sum, err
	}
	if since.IsZero() {
		since = start
	}
	opts.Copy.NotYetSince = since
	mon.SetFollow(state) // following shows from the first copy on
	for n := 0; ; n++ {
		final := !deadline.IsZero() && !time.Now().Before(deadline)
		pass := FollowPass{N: n, Final: final}
		passStart := time.Now()
		if n > 0 {
			pass.Reconcile = opts.ReconcileEvery > 0 && time.Since(lastReconcile) >= opts.ReconcileEvery
			pass.Rescan = final || pass.Reconcile || time.Since(lastRescan) >= opts.RescanEvery
			err := followPlan(ctx, cat, db, opts, &pass)
			switch {
			case err != nil && ctx.Err() != nil:
				sum.Interrupted = true
				return sum, nil
			case err != nil && catalog.IsConnectionError(err) && !final && planFailures < MaxFollowPlanFailures:
				// The database went away (a restart, a failover): this pass copies what is
				// pending, the next one reads again. Its watermarks did not move.
				planFailures++
				pass.PlanFailed = true
				opts.Plan.Log.Warn().Err(err).Int("in_a_row", planFailures).
					Msg("following: the database did not answer; the next pass reads it again")
				if rc, ok := cat.(Reconnector); ok {
					if rerr := rc.Reconnect(ctx); rerr != nil {
						opts.Plan.Log.Warn().Err(rerr).Msg("following: reconnecting to the database failed; the next pass tries again")
					}
				}
			case err != nil:
				return sum, err
			default:
				planFailures = 0
			}
			if pass.PlanFailed {
				pass.Rescan, pass.Reconcile = false, false
			}
			if pass.Rescan {
				lastRescan = passStart
				state.LastRescanAt = passStart.UTC()
			}
			if pass.Reconcile {
				lastReconcile = passStart
			}
		}
		copyOpts := opts.Copy
		if n > 0 {
			copyOpts.KeepNewerSince = since
			copyOpts.QuietProgress = true // the pass's own line says what it did
		}
		copied, err := Copy(ctx, db, src, dst, copyOpts)
		pass.Copied = copied
		sum.Done += copied.Done
		sum.Found += copied.Found
		sum.Failed += copied.Failed
		sum.Missing += copied.Missing
		sum.Bytes += copied.Bytes
		sum.Left = copied.Left
		if err != nil {
			return sum, err
		}
		if copied.Interrupted {
			sum.Interrupted = true
			return sum, nil
		}
		if n > 0 {
			state.Passes++
			sum.Passes++
			state.RecordsSeen += pass.Records
			state.ObjectsAdded += pass.Added
			sum.Records += pass.Records
			sum.Added += pass.Added
		}
		state.LastAdded = pass.Added
		state.LastPassAt = time.Now().UTC()
		state.Pending = copied.Left
		state.LagSeconds = 0
		if copied.Left > 0 {
			oldest, err := oldestPending(db, opts.Copy.Kinds)
			if err != nil {
				return sum, err
			}
			if !oldest.IsZero() {
				state.LagSeconds = time.Since(oldest).Seconds()
			}
		}
		if n > 0 && pass.Added == 0 && copied.Left == 0 && !pass.PlanFailed {
			state.QuietPasses++
			quietRescan = quietRescan || pass.Rescan
		} else if n > 0 {
			state.QuietPasses, quietRescan = 0, false
		}
		state.ReadyToStop = state.QuietPasses >= QuietToStop && quietRescan
		next := time.Now().Add(opts.Interval)
		if !deadline.IsZero() && next.After(deadline) {
			next = deadline
		}
		state.NextPassAt = next.UTC()
		if final {
			state.NextPassAt = time.Time{}
		}
		pass.Took = time.Since(passStart)
		pass.State = state
		mon.SetFollow(state)
		if opts.OnPass != nil {
			opts.OnPass(pass)
		}
		if final {
			mon.setPhase(PhaseDone, "")
			return sum, nil
		}
		select {
		case <-ctx.Done():
			mon.setPhase(PhaseInterrupted, "")
			sum.Interrupted = true
			return sum, nil
		case <-time.After(time.Until(next)):
		}
	}
}

// followPlan is a pass's plan: new records only, or also replaced files (Rescan), or a full
// reconciling plan (Reconcile).
func followPlan(ctx context.Context, cat DeltaCatalog, db *checkpoint.DB, opts FollowOptions, pass *FollowPass) error {
	// What the pass queued is what it added to the pending objects: new records' objects, and
	// known ones whose file was replaced (Merge starts them over).
	before, err := pendingCount(db, opts.Copy.Kinds)
	if err != nil {
		return err
	}
	plan := opts.Plan
	plan.Limit, plan.Offset = 0, 0
	var sums []KindSummary
	if pass.Reconcile {
		plan.Full = true
		sums, err = Plan(ctx, cat, db, plan)
	} else {
		plan.NewOnly = !pass.Rescan
		sums, err = PlanChanged(ctx, cat, db, plan)
	}
	for _, s := range sums {
		pass.Records += s.Records
		pass.Stale += s.Stale
	}
	after, cerr := pendingCount(db, opts.Copy.Kinds)
	if err == nil {
		err = cerr
	}
	pass.Added = max(after-before, 0)
	return err
}

// oldestPending returns when the oldest pending object of kinds (all when empty) was planned;
// zero when none is pending. Its cost follows the pending objects.
func oldestPending(db *checkpoint.DB, kinds []string) (time.Time, error) {
	var oldest time.Time
	err := db.Each(checkpoint.Filter{Kinds: kinds, Statuses: []checkpoint.Status{checkpoint.Pending}}, func(o checkpoint.Object) error {
		if oldest.IsZero() || o.CreatedAt.Before(oldest) {
			oldest = o.CreatedAt
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("checkpoint: %w", err)
	}
	return oldest, nil
}

func (o FollowOptions) withDefaults() FollowOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultFollowInterval
	}
	if o.RescanEvery <= 0 {
		o.RescanEvery = DefaultRescanEvery
	}
	if o.Copy.NotYetGrace <= 0 {
		o.Copy.NotYetGrace = DefaultNotYetGrace
	}
	if o.Copy.Monitor == nil {
		o.Copy.Monitor = NewMonitor()
	}
	o.Copy.Following = true
	o.Copy.Limit = 0
	if len(o.Plan.Kinds) == 0 {
		for _, k := range o.Copy.Kinds {
			o.Plan.Kinds = append(o.Plan.Kinds, catalog.Kind(k))
		}
	}
	return o
}
