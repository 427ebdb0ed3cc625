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
}

// Plan snapshots the database into the checkpoint, one transaction per page, so memory stays
// flat and an interrupted plan keeps every page it committed. A kind whose table is missing is
// reported and skipped; other errors stop the plan.
func Plan(ctx context.Context, cat Catalog, db *checkpoint.DB, opts PlanOptions) ([]KindSummary, error) {
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = catalog.AllKinds
	}
	var out []KindSummary
	for _, kind := range kinds {
		sum := KindSummary{Kind: kind}
		start := time.Now()
		if opts.OnStart != nil {
			opts.OnStart(kind, planned(ctx, cat, kind, opts))
		}
		last := time.Now()
		err := cat.Scan(ctx, kind, catalog.ScanOptions{Offset: opts.Offset, Limit: opts.Limit, PageSize: opts.PageSize},
			func(p catalog.Page) error {
				objs := make([]checkpoint.Object, len(p.Objects))
				for i, o := range p.Objects {
					objs[i] = checkpointObject(o)
				}
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
				if time.Since(last) >= 10*time.Second {
					last = time.Now()
					opts.Log.Info().Str("kind", string(kind)).Int64("records", sum.Records).
						Int64("objects", sum.Objects).Int64("last_id", p.LastID).Msg("planning")
				}
				return ctx.Err()
			})
		if errors.Is(err, catalog.ErrNoTable) {
			sum.Err, sum.Note = err, "table not found, skipped"
			opts.Log.Warn().Str("kind", string(kind)).Err(err).Msg("kind skipped")
			out = append(out, sum)
			continue
		}
		out = append(out, sum)
		if err != nil {
			return out, fmt.Errorf("plan %s: %w", kind, err)
		}
		opts.Log.Debug().Str("kind", string(kind)).Dur("took", time.Since(start)).Msg("kind planned")
	}
	return out, nil
}

// planned is how many records plan will read of kind, -1 when the count fails.
func planned(ctx context.Context, cat Catalog, kind catalog.Kind, opts PlanOptions) int64 {
	n, err := cat.Count(ctx, kind)
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
	}
}
