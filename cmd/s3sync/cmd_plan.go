package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/human"
)

type planOptions struct {
	only          string
	limit, offset int64
	shard         string
	delta         planDeltaOptions // --changed, --skip-remote-cache
}

func newPlanCommand(g *globals) *cli.Command {
	var o planOptions
	return &cli.Command{
		Name:  "plan",
		Usage: "snapshot the objects the Mastodon database references into the checkpoint",
		Description: "Reads the Mastodon tables page by page and records every object (with its candidate source\n" +
			"keys) as pending. Re-running merges: known objects keep their status, new ones arrive pending.\n\n" +
			"Example:\n" +
			"  s3sync plan                      # every kind\n" +
			"  s3sync plan --skip-remote-cache  # leave cached remote media out\n" +
			"  s3sync plan --changed            # only what changed since the last plan",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to plan (default all): " + kindList(), Destination: &o.only},
			&cli.Int64Flag{Name: "limit", Usage: "read at most `N` records per kind", DefaultText: "all", Destination: &o.limit},
			&cli.Int64Flag{Name: "offset", Usage: "skip the first `N` records per kind (compatibility with the old tool)", DefaultText: "none", Destination: &o.offset},
			shardFlag(&o.shard),
			changedFlag(&o.delta), skipRemoteCacheFlag(&o.delta),
		},
		Action: func(c *cli.Context) error { return runPlan(c, g, o) },
	}
}

func runPlan(c *cli.Context, g *globals, o planOptions) error {
	kinds, err := catalog.ParseKinds(o.only)
	if err != nil {
		return usageErrorf("--only "+kindList(), "--only: %v", err)
	}
	if o.limit < 0 || o.offset < 0 {
		return usageErrorf("", "--limit and --offset must not be negative")
	}
	shard, err := parseShardFlag(o.shard)
	if err != nil {
		return err
	}
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	reader, closeReader, err := openCatalog(c.Context, g, cfg) // through the SSH tunnel when enabled
	if err != nil {
		return err
	}
	defer closeReader()

	path := shardCheckpointPath(cfg, g.checkpoint, shard)
	db, err := openCheckpoint(path, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkLocations(db, cfg, true); err != nil {
		return err
	}
	if err := checkShard(db, shard, true); err != nil {
		return err
	}
	g.writeRunning(path, "plan")
	defer g.writeStopped(path, db)

	start := time.Now()
	bars := g.startPlanBars()
	staleBefore := staleCount(db)
	keys := engine.NewKeyLimit(destinationPrefix(cfg), g.log) // keys S3 cannot hold are left out
	sums, err := runPlanStage(c.Context, g, cfg, o.delta, reader, engine.ShardCatalog(reader, shard), db, engine.PlanOptions{Kinds: kinds, Limit: o.limit, Offset: o.offset, Log: g.log,
		OnStart: bars.start, OnPage: bars.page}, keys)
	bars.stop(err == nil)
	printPlan(g, sums, time.Since(start))
	printPlanDelta(g, sums, staleBefore, db)
	printOverlong(g.stdout, keys)
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if err := db.SetPlannedAt(time.Now()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	next := "s3sync copy"
	if shard.Sharded() {
		next += " --shard " + shard.String()
	}
	fmt.Fprintf(g.stdout, "checkpoint: %s\nnext: %s\n", path, next)
	return nil
}

func printPlan(g *globals, sums []engine.KindSummary, took time.Duration) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRECORDS\tOBJECTS\tNEW\tKNOWN\tSKIPPED\tNOTE")
	var tot engine.KindSummary
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Kind, s.Records, s.Objects, s.New, s.Known, s.Skipped, s.Note)
		tot.Records += s.Records
		tot.Objects += s.Objects
		tot.New += s.New
		tot.Known += s.Known
		tot.Skipped += s.Skipped
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%s\n", tot.Records, tot.Objects, tot.New, tot.Known, tot.Skipped, took.Round(time.Millisecond))
	tw.Flush()
	if tot.Skipped > 0 {
		fmt.Fprintln(g.stdout, "SKIPPED counts attachments without a file (no header, no thumbnail, no preview image…), plus any with an unusable file name (logged).")
	}
}

// planDeltaOptions are the plan flags of the live-migration workflow.
type planDeltaOptions struct {
	changed         bool
	skipRemoteCache bool
}

// runPlanStage runs the plan the flags ask for: PlanChanged with --changed, else a full,
// reconciling Plan (a plain merge under --limit or --offset). reader is the database itself;
// cat may wrap it (a shard filter). Objects whose keys S3 cannot hold are left out by keys
// (engine.KeyLimit), which adds their count to each kind's NOTE.
func runPlanStage(ctx context.Context, g *globals, cfg *Config, o planDeltaOptions, reader *catalog.Reader, cat engine.Catalog,
	db *checkpoint.DB, opts engine.PlanOptions, keys *engine.KeyLimit) ([]engine.KindSummary, error) {
	sums, err := planStage(ctx, g, cfg, o, reader, cat, db, opts, keys)
	keys.Annotate(sums)
	return sums, err
}

func planStage(ctx context.Context, g *globals, cfg *Config, o planDeltaOptions, reader *catalog.Reader, cat engine.Catalog,
	db *checkpoint.DB, opts engine.PlanOptions, keys *engine.KeyLimit) ([]engine.KindSummary, error) {
	opts.SkipRemoteCache = o.skipRemoteCache || cfg.RemoteCache == remoteCacheSkip
	if v, err := reader.Version(ctx); err != nil {
		g.log.Warn().Err(err).Msg("Mastodon version not detected")
	} else {
		fmt.Fprintln(g.stdout, v.String())
	}
	if o.changed {
		if _, wrapped := cat.(*catalog.Reader); !wrapped {
			return nil, usageErrorf("", "--changed cannot be combined with --shard")
		}
		return engine.PlanChanged(ctx, keys.WrapDelta(reader), db, opts)
	}
	opts.Full = true
	return engine.Plan(ctx, keys.Wrap(cat), db, opts)
}

// printPlanDelta prints what plan's table leaves out: stale objects and the remote cache skipped.
func printPlanDelta(g *globals, sums []engine.KindSummary, staleBefore int64, db *checkpoint.DB) {
	var skipped, skippedBytes int64
	for _, s := range sums {
		skipped += s.RemoteSkipped
		skippedBytes += s.RemoteSkippedBytes
	}
	if n := staleCount(db) - staleBefore; n > 0 {
		fmt.Fprintf(g.stdout, "stale: %d object(s) no longer referenced (record deleted or file replaced), never copied; list them with: s3sync report --format csv --status stale\n", n)
	}
	if skipped > 0 {
		fmt.Fprintf(g.stdout, "remote cache skipped: %d object(s), %s known (Mastodon fetches them again from their origin)\n", skipped, human.Bytes(skippedBytes))
	}
}

// staleCount returns the Stale objects the checkpoint holds, 0 when its counters cannot be read.
func staleCount(db *checkpoint.DB) int64 {
	counts, err := db.Counts()
	if err != nil {
		return 0
	}
	return counts.Sum(checkpoint.Stale).Objects
}

// printOverlong explains the NOTE below plan's table: the objects plan left out because S3
// cannot hold their keys.
func printOverlong(w io.Writer, f *engine.KeyLimit) {
	if n := f.Total(); n > 0 {
		fmt.Fprintf(w, "overlong keys: %d object(s) left out of the checkpoint: their keys are longer than the %d bytes S3 allows, so no bucket holds them (Mastodon's upload failed too); the log names their table and id\n", n, engine.MaxKeyBytes)
	}
}

// destinationPrefix is [s3.destination] key_prefix, "" when there is none.
func destinationPrefix(cfg *Config) string {
	if cfg.Destination == nil {
		return ""
	}
	return cfg.Destination.KeyPrefix
}
