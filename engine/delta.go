package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// DeltaCatalog is a Catalog that can read only what changed since a Watermark;
// *catalog.Reader implements it.
type DeltaCatalog interface {
	Catalog
	// Watermark returns the kind's highest id and latest <attachment>_updated_at now.
	Watermark(ctx context.Context, kind catalog.Kind) (catalog.Watermark, error)
	// ScanChanged calls fn with pages of the records beyond since (new ids, later updated_at)
	// and returns the Watermark of what it read.
	ScanChanged(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error)
	// ScanNew is ScanChanged for new ids only (a primary key range): cheap, but blind to
	// replaced files. The Watermark it returns keeps since's UpdatedAt.
	ScanNew(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error)
}

// fullPlan reports whether opts make a reconciling plan.
func fullPlan(opts PlanOptions) bool { return opts.Full && opts.Limit == 0 && opts.Offset == 0 }

// planObjects turns a page's objects into checkpoint objects, leaving out cached remote media
// under SkipRemoteCache (counted in sum).
func planObjects(p catalog.Page, opts PlanOptions, sum *KindSummary) []checkpoint.Object {
	objs := make([]checkpoint.Object, 0, len(p.Objects))
	for _, o := range p.Objects {
		if opts.SkipRemoteCache && o.Remote {
			sum.RemoteSkipped++
			sum.RemoteSkippedBytes += o.Size
			continue
		}
		objs = append(objs, checkpointObject(o))
	}
	return objs
}

// reconcilePage, in a Full plan, marks Stale the kind's objects in the page's id range (after
// the previous page's last id, or from the start) that the page did not produce: their record
// was deleted or no longer has that attachment or style. Remote objects left out by
// SkipRemoteCache are not marked.
func reconcilePage(db *checkpoint.DB, kind catalog.Kind, p catalog.Page, lastID int64, resume bool, opts PlanOptions, sum *KindSummary) error {
	if !fullPlan(opts) {
		return nil
	}
	keep := make(map[string]bool, len(p.Objects))
	for _, o := range p.Objects {
		keep[checkpointObject(o).ID()] = true
	}
	after := int64(-1)
	if resume {
		after = lastID
	}
	n, err := db.MarkStale(string(kind), after, p.LastID, keep)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	sum.Stale += int64(n)
	last := p.LastID
	sum.lastSeen = &last
	return nil
}

// planKindFull is planKind; in a Full plan it first takes the kind's Watermark, and after
// the last page marks Stale the objects of records past it (deleted since), then saves the
// Watermark for PlanChanged.
func planKindFull(ctx context.Context, cat Catalog, db *checkpoint.DB, kind catalog.Kind, opts PlanOptions, sum *KindSummary) error {
	if !fullPlan(opts) {
		return planKind(ctx, cat, db, kind, opts, sum)
	}
	dc, hasDelta := cat.(DeltaCatalog)
	var wm catalog.Watermark
	if hasDelta {
		var err error
		if wm, err = dc.Watermark(ctx, kind); err != nil {
			return err
		}
	}
	if err := planKind(ctx, cat, db, kind, opts, sum); err != nil {
		return err
	}
	after := int64(-1)
	if sum.lastSeen != nil {
		after = *sum.lastSeen
	}
	n, err := db.MarkStale(string(kind), after, -1, nil)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	sum.Stale += int64(n)
	if hasDelta {
		if err := db.SetWatermark(string(kind), catalog.FormatWatermark(wm)); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// PlanChanged is the delta plan (`plan --changed`): for each kind it reads only the records
// beyond the Watermark the last plan saved (new ids through the primary key, and records whose
// <attachment>_updated_at is later), merges their objects (a replaced file starts over and its
// old copy becomes Stale, see checkpoint.DB.Merge) and advances the Watermark. A kind with no
// Watermark yet is planned in full. Deleted records are not noticed: a Full plan finds them.
// Limit and Offset are ignored.
func PlanChanged(ctx context.Context, cat DeltaCatalog, db *checkpoint.DB, opts PlanOptions) ([]KindSummary, error) {
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = catalog.AllKinds
	}
	var out []KindSummary
	for _, kind := range kinds {
		sum := KindSummary{Kind: kind}
		raw, err := db.Watermark(string(kind))
		if err != nil {
			return out, err
		}
		since, ok := catalog.ParseWatermark(raw)
		if !ok {
			full := opts
			full.Full, full.Limit, full.Offset = true, 0, 0
			if opts.OnStart != nil {
				opts.OnStart(kind, planned(ctx, cat, kind, full))
			}
			err = planKindFull(ctx, cat, db, kind, full, &sum)
			sum.Note = "no earlier full plan: read in full"
		} else {
			if opts.OnStart != nil {
				opts.OnStart(kind, -1)
			}
			var next catalog.Watermark
			scan := cat.ScanChanged
			if opts.NewOnly {
				scan = cat.ScanNew
			}
			next, err = scan(ctx, kind, since, opts.PageSize, func(p catalog.Page) error {
				objs := planObjects(p, opts, &sum)
				added, known, err := db.Merge(objs)
				if err != nil {
					return fmt.Errorf("checkpoint: %w", err)
				}
				sum.Records += int64(p.Records)
				sum.Objects += int64(len(objs))
				sum.New += int64(added)
				sum.Known += int64(known)
				sum.Skipped += int64(p.Skipped)
				if opts.OnPage != nil {
					opts.OnPage(sum)
				}
				for _, why := range p.Invalid {
					opts.Log.Warn().Str("kind", string(kind)).Msg("skipped: " + why)
				}
				return ctx.Err()
			})
			if err == nil {
				err = db.SetWatermark(string(kind), catalog.FormatWatermark(next))
			}
		}
		if errors.Is(err, catalog.ErrNoTable) {
			sum.Err, sum.Note = err, "table not found, skipped"
			out = append(out, sum)
			continue
		}
		out = append(out, sum)
		if err != nil {
			return out, fmt.Errorf("plan %s: %w", kind, err)
		}
	}
	return out, nil
}
