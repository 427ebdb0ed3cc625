package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// Catalog reads the records of one kind page by page; *catalog.Reader implements it.
type Catalog interface {
	// Scan calls fn once per page of records in id order; fn's error stops the scan.
	Scan(ctx context.Context, kind catalog.Kind, opts catalog.ScanOptions, fn func(catalog.Page) error) error
	// Count returns the number of records of kind; catalog.ErrNoTable when it has no table.
	Count(ctx context.Context, kind catalog.Kind) (int64, error)
}

// PlanOptions selects what plan reads.
type PlanOptions struct {
	Kinds    []catalog.Kind // kinds to read; empty = catalog.AllKinds
	Limit    int64          // records per kind, 0 = all
	Offset   int64          // records to skip per kind, 0 = none
	PageSize int            // rows per query, 0 = the catalog's default
	Log      zerolog.Logger

	// OnStart, when set, is called before a kind is read with the number of records plan
	// will read (the table's count, capped by Limit and Offset; -1 when unknown).
	OnStart func(kind catalog.Kind, records int64)
	// OnPage, when set, is called after every committed page with the kind's running summary.
	OnPage func(KindSummary)

	// Reconnects is how many times in a row plan reconnects to the database after losing the
	// connection (see catalog.IsConnectionError) before it gives up; it then continues after
	// the last committed page. 0 = DefaultPlanReconnects; negative = never reconnect.
	Reconnects int
	// ReconnectBackoff is the wait before the first reconnection, doubled for each further
	// one in a row up to MaxPlanBackoff; 0 = DefaultPlanBackoff.
	ReconnectBackoff time.Duration

	// Full makes a reconciling plan: objects of the kinds read whose record or
	// attachment is gone become Stale, and each kind's Watermark is saved for PlanChanged.
	// Ignored when Limit or Offset is set. Default false: plan only merges.
	Full bool
	// SkipRemoteCache leaves cached copies of remote media (Object.Remote) out of the
	// checkpoint; KindSummary.RemoteSkipped counts them. Default false: they are planned.
	SkipRemoteCache bool
	// NewOnly makes PlanChanged read only the records created since the last plan
	// (DeltaCatalog.ScanNew, a primary key range), not the files replaced since, which need a
	// scan of the whole table. Default false: both.
	NewOnly bool
}

// Reconnection defaults of PlanOptions: 1+2+4+8+16+16 s, about a minute of outage in all.
const (
	DefaultPlanReconnects = 6
	DefaultPlanBackoff    = time.Second
	MaxPlanBackoff        = 16 * time.Second
)

// Reconnector is a Catalog that can replace a lost database connection; *catalog.Reader
// implements it. Plan uses it when the Catalog has it.
type Reconnector interface {
	// Reconnect opens a new connection in place of the lost one; its error wraps
	// catalog.ErrConnection when trying again later may succeed.
	Reconnect(ctx context.Context) error
}

// KindSummary is what plan did for one kind.
type KindSummary struct {
	Kind    catalog.Kind
	Records int64  // rows read
	Objects int64  // objects derived from them
	New     int64  // objects the checkpoint did not know
	Known   int64  // objects it already had (their status kept)
	Skipped int64  // attachments without a file name, or with an unusable one
	Err     error  // why this kind was not (fully) planned, nil when it was
	Note    string // e.g. "table not found", for the summary

	// Stale counts objects marked Stale: record deleted, attachment removed or file replaced.
	Stale int64
	// RemoteSkipped and RemoteSkippedBytes count the cached remote objects SkipRemoteCache
	// left out, and the bytes the database knows for them.
	RemoteSkipped, RemoteSkippedBytes int64

	lastSeen *int64 // a Full plan's last committed record id, nil before the first page
}

// Plan snapshots the database into the checkpoint, one transaction per page, so memory stays
// flat and an interrupted plan keeps every page it committed. A lost database connection
// (server restarted, SSH tunnel dropped) is replaced with backoff, and reading continues
// after the last committed page, so no record is read twice or skipped and Limit still
// holds. A kind whose table is missing is reported and skipped; other errors stop the plan.
func Plan(ctx context.Context, cat Catalog, db *checkpoint.DB, opts PlanOptions) ([]KindSummary, error) {
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = catalog.AllKinds
	}
	var out []KindSummary
	var schemaErr error // a kind whose table lacks a needed column: the others are planned first
	for _, kind := range kinds {
		sum := KindSummary{Kind: kind}
		start := time.Now()
		if opts.OnStart != nil {
			opts.OnStart(kind, planned(ctx, cat, kind, opts))
		}
		err := planKindFull(ctx, cat, db, kind, opts, &sum) // reconciling when opts.Full
		if errors.Is(err, catalog.ErrNoTable) {
			sum.Err, sum.Note = err, "table not found, skipped"
			opts.Log.Warn().Str("kind", string(kind)).Err(err).Msg("kind skipped")
			out = append(out, sum)
			continue
		}
		if errors.Is(err, catalog.ErrNoColumn) {
			sum.Err, sum.Note = err, "column missing, skipped"
			opts.Log.Error().Str("kind", string(kind)).Err(err).Msg("kind skipped")
			out = append(out, sum)
			if schemaErr == nil {
				schemaErr = fmt.Errorf("plan %s: %w (the other kinds were planned)", kind, err)
			}
			continue
		}
		out = append(out, sum)
		if err != nil {
			return out, fmt.Errorf("plan %s: %w", kind, err)
		}
		opts.Log.Debug().Str("kind", string(kind)).Dur("took", time.Since(start)).Msg("kind planned")
	}
	return out, schemaErr
}

// planKind reads one kind into the checkpoint, page by page, reconnecting after a lost
// connection and resuming after the last committed page.
func planKind(ctx context.Context, cat Catalog, db *checkpoint.DB, kind catalog.Kind, opts PlanOptions, sum *KindSummary) error {
	var (
		lastID   int64
		resume   bool // lastID holds the last committed record's id
		failures int  // connection losses since the last committed page
		logged   = time.Now()
	)
	commit := func(p catalog.Page) error {
		objs := planObjects(p, opts, sum) // the remote cache policy
		added, known, err := db.Merge(objs)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if err := reconcilePage(db, kind, p, lastID, resume, opts, sum); err != nil {
			return err
		}
		lastID, resume, failures = p.LastID, true, 0
		sum.Records += int64(p.Records)
		sum.Objects += int64(len(objs))
		sum.New += int64(added)
		sum.Known += int64(known)
		sum.Skipped += int64(p.Skipped)
		if opts.OnPage != nil {
			opts.OnPage(*sum)
		}
		for _, why := range p.Invalid {
			opts.Log.Warn().Str("kind", string(kind)).Msg("skipped: " + why)
		}
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			opts.Log.Info().Str("kind", string(kind)).Int64("records", sum.Records).
				Int64("objects", sum.Objects).Int64("last_id", p.LastID).Msg("planning")
		}
		return ctx.Err()
	}
	for {
		so := catalog.ScanOptions{Offset: opts.Offset, Limit: opts.Limit, PageSize: opts.PageSize}
		if resume {
			after := lastID
			so.AfterID = &after
			if opts.Limit > 0 {
				so.Limit = opts.Limit - sum.Records // records already read count toward the limit
				if so.Limit <= 0 {
					return nil
				}
			}
		}
		err := scanPipelined(ctx, cat, kind, so, commit) // reads the next page while committing this one
		if err == nil || ctx.Err() != nil || !catalog.IsConnectionError(err) {
			return err
		}
		rc, ok := cat.(Reconnector)
		if !ok {
			return err
		}
		if err := reconnect(ctx, rc, kind, opts, &failures, lastID, resume, err); err != nil {
			return err
		}
	}
}

// reconnect waits and reconnects until a connection is made, counting failures in a row
// and giving up after opts.Reconnects of them.
func reconnect(ctx context.Context, rc Reconnector, kind catalog.Kind, opts PlanOptions, failures *int, lastID int64, resume bool, cause error) error {
	limit := opts.Reconnects
	if limit == 0 {
		limit = DefaultPlanReconnects
	}
	for {
		if *failures >= limit {
			return fmt.Errorf("%w (gave up after %d reconnection attempts)", cause, max(limit, 0))
		}
		*failures++
		wait := planBackoff(opts.ReconnectBackoff, *failures)
		ev := opts.Log.Warn().Str("kind", string(kind)).Int("attempt", *failures).Int("of", limit).
			Dur("wait", wait).Str("error", cause.Error())
		if resume {
			ev = ev.Int64("after_id", lastID)
		}
		ev.Msg("database connection lost; reconnecting")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		err := rc.Reconnect(ctx)
		if err == nil {
			ev := opts.Log.Info().Str("kind", string(kind))
			if resume {
				ev = ev.Int64("after_id", lastID)
			}
			ev.Msg("reconnected to the database; continuing after the last committed page")
			return nil
		}
		if ctx.Err() != nil || !catalog.IsConnectionError(err) {
			return err
		}
		cause = err
	}
}

// planBackoff is the wait before the n-th reconnection in a row (n >= 1).
func planBackoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		base = DefaultPlanBackoff
	}
	d := base
	for i := 1; i < n && d < MaxPlanBackoff; i++ {
		d *= 2
	}
	return min(d, max(MaxPlanBackoff, base))
}

// planned is how many records plan will read of kind, -1 when the count fails.
func planned(ctx context.Context, cat Catalog, kind catalog.Kind, opts PlanOptions) int64 {
	n, err := cat.Count(ctx, kind)
	if rc, ok := cat.(Reconnector); ok && catalog.IsConnectionError(err) && ctx.Err() == nil {
		failures := 0
		if reconnect(ctx, rc, kind, opts, &failures, 0, false, err) == nil {
			n, err = cat.Count(ctx, kind)
		}
	}
	if err != nil {
		return -1
	}
	n = max(n-opts.Offset, 0)
	if opts.Limit > 0 {
		n = min(n, opts.Limit)
	}
	return n
}

func checkpointObject(o catalog.Object) checkpoint.Object {
	return checkpoint.Object{
		Kind:        string(o.Kind),
		RecordID:    o.RecordID,
		Attachment:  o.Attachment,
		Style:       o.Style,
		Candidates:  o.Candidates,
		Size:        o.Size,
		ContentType: o.ContentType,
		Remote:      o.Remote,
		Private:     o.Suspended,
		NoStatus:    o.NoStatus,
	}
}
