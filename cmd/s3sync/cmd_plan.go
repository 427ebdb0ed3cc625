package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
)

type planOptions struct {
	only          string
	limit, offset int64
	shard         string
	delta         planDeltaOptions // plan_delta.go: --changed, --skip-remote-cache
}

func newPlanCommand(g *globals) *cli.Command {
	var o planOptions
	return &cli.Command{
		Name:  "plan",
		Usage: "snapshot the objects the Mastodon database references into the checkpoint",
		Description: "Reads the Mastodon tables page by page and records every object (with its candidate source\n" +
			"keys) as pending. Re-running merges: known objects keep their status, new ones arrive pending.",
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
	keys := newOverlongKeys(cfg, g.log) // keylimit.go: keys S3 cannot hold are left out
	sums, err := runPlanStage(c.Context, g, cfg, o.delta, reader, engine.ShardCatalog(reader, shard), db, engine.PlanOptions{Kinds: kinds, Limit: o.limit, Offset: o.offset, Log: g.log,
		OnStart: bars.start, OnPage: bars.page}, keys)
	bars.stop(err == nil)
	printPlan(g, sums, time.Since(start))
	printPlanDelta(g, sums, staleBefore, db)
	keys.print(g.stdout)
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if err := db.SetMeta(metaPlannedAt, time.Now().UTC().Format(time.RFC3339)); err != nil {
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

func kindList() string {
	s := ""
	for i, k := range catalog.AllKinds {
		if i > 0 {
			s += ","
		}
		s += string(k)
	}
	return s
}
