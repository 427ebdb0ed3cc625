package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/ini.v1"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// Values of [sync] remote_cache.
const (
	remoteCacheCopy = "copy"
	remoteCacheSkip = "skip"
)

// remoteCache parses [sync] remote_cache: copy (default) or skip.
func (p *parser) remoteCache(s *ini.Section) string {
	v := strings.ToLower(p.str(s, "remote_cache"))
	switch v {
	case "":
		return remoteCacheCopy
	case remoteCacheCopy, remoteCacheSkip:
		return v
	}
	p.fail(s.Name(), "remote_cache", "%q is neither copy nor skip", v)
	return remoteCacheCopy
}

// planDeltaOptions are the plan flags of the live-migration workflow.
type planDeltaOptions struct {
	changed         bool
	skipRemoteCache bool
}

func changedFlag(o *planDeltaOptions) cli.Flag {
	return &cli.BoolFlag{Name: "changed", Usage: "read only records added or given a new file since the last plan (fast; deleted records are found by a full plan)", Destination: &o.changed}
}

func skipRemoteCacheFlag(o *planDeltaOptions) cli.Flag {
	return &cli.BoolFlag{Name: "skip-remote-cache", Usage: "leave cached remote media (the cache/ tree) out; Mastodon can fetch it again from its origin ([sync] remote_cache = skip)", Destination: &o.skipRemoteCache}
}

// runPlanStage runs the plan the flags ask for: PlanChanged with --changed, else a full,
// reconciling Plan (a plain merge under --limit or --offset). reader is the database itself;
// cat may wrap it (a shard filter). Objects whose keys S3 cannot hold are left out by keys
// (keylimit.go), which adds their count to each kind's NOTE.
func runPlanStage(ctx context.Context, g *globals, cfg *Config, o planDeltaOptions, reader *catalog.Reader, cat engine.Catalog,
	db *checkpoint.DB, opts engine.PlanOptions, keys *overlongKeys) ([]engine.KindSummary, error) {
	sums, err := planStage(ctx, g, cfg, o, reader, cat, db, opts, keys)
	keys.annotate(sums)
	return sums, err
}

func planStage(ctx context.Context, g *globals, cfg *Config, o planDeltaOptions, reader *catalog.Reader, cat engine.Catalog,
	db *checkpoint.DB, opts engine.PlanOptions, keys *overlongKeys) ([]engine.KindSummary, error) {
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
		return engine.PlanChanged(ctx, keys.wrapDelta(reader), db, opts)
	}
	opts.Full = true
	return engine.Plan(ctx, keys.wrap(cat), db, opts)
}

// printPlanDelta prints what plan's table leaves out: stale objects and the remote cache skipped.
func printPlanDelta(g *globals, sums []engine.KindSummary, staleBefore int64, db *checkpoint.DB) {
	var skipped, skippedBytes int64
	for _, s := range sums {
		skipped += s.RemoteSkipped
		skippedBytes += s.RemoteSkippedBytes
	}
	if counts, err := db.Counts(); err == nil {
		var stale int64
		for _, byStatus := range counts {
			stale += byStatus[checkpoint.Stale].Objects
		}
		if n := stale - staleBefore; n > 0 {
			fmt.Fprintf(g.stdout, "stale: %d object(s) no longer referenced (record deleted or file replaced), never copied; list them with: s3sync report --format csv --status stale\n", n)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(g.stdout, "remote cache skipped: %d object(s), %s known (Mastodon fetches them again from their origin)\n", skipped, engine.FormatBytes(skippedBytes))
	}
}

// staleCount returns the Stale objects the checkpoint holds.
func staleCount(db *checkpoint.DB) int64 {
	counts, err := db.Counts()
	if err != nil {
		return 0
	}
	var n int64
	for _, byStatus := range counts {
		n += byStatus[checkpoint.Stale].Objects
	}
	return n
}
