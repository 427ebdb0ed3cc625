package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
)

type usageOptions struct {
	only  string
	noDB  bool
	merge bool // the arguments are checkpoints (shards) to combine
}

func newUsageCommand(g *globals) *cli.Command {
	var o usageOptions
	return &cli.Command{
		Name:  "usage",
		Usage: "objects and bytes per kind: local versus remote cache, done versus left",
		Description: "Like `tootctl media usage`, for the migration: from the checkpoint, each kind's objects and\n" +
			"bytes split by local media (irreplaceable) and cached remote media (re-fetchable), and by how\n" +
			"far the copy is; with the database configured, its record counts too.\n\n" +
			"Example:\n  s3sync usage --only media_attachments",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` (default all)", Destination: &o.only},
			&cli.BoolFlag{Name: "no-database", Usage: "do not ask the database for record counts", Destination: &o.noDB},
			mergeFlag("usage", &o.merge),
		},
		Action: func(c *cli.Context) error { return runUsage(c, g, o) },
	}
}

func runUsage(c *cli.Context, g *globals, o usageOptions) error {
	kinds, err := kindNamesOf(o.only)
	if err != nil {
		return err
	}
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if o.merge || c.Args().Len() > 0 {
		return runUsageMerge(c, g, o, cfg, kinds)
	}
	db, _, err := openPlannedCheckpoint(g, cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := engine.Usage(db, kinds)
	if err != nil {
		return err
	}
	return writeUsage(c, g, o, cfg, rows)
}

// runUsageMerge is `usage --merge a.db b.db …`: the rows of every checkpoint added up kind by
// kind, with the database's record counts asked once.
func runUsageMerge(c *cli.Context, g *globals, o usageOptions, cfg *Config, kinds []string) error {
	dbs, err := openMerged(cfg, "usage", o.merge, c.Args().Slice(), true)
	defer closeAll(dbs)
	if err != nil {
		return err
	}
	parts := make([][]engine.UsageRow, 0, len(dbs))
	for _, db := range dbs {
		rows, err := engine.Usage(db, kinds)
		if err != nil {
			return fmt.Errorf("usage: %s: %w", db.Path(), err)
		}
		parts = append(parts, rows)
	}
	rows := engine.MergeUsage(parts...)
	return writeUsage(c, g, o, cfg, rows)
}

// writeUsage prints the usage rows, with each kind's record count from the database when it
// is configured and not refused with --no-database.
func writeUsage(c *cli.Context, g *globals, o usageOptions, cfg *Config, rows []engine.UsageRow) error {
	if !o.noDB && cfg.Database != nil {
		reader, closeReader, err := openCatalog(c.Context, g, cfg)
		if err != nil {
			return err
		}
		defer closeReader()
		for i := range rows {
			if n, err := reader.Count(c.Context, catalog.Kind(rows[i].Kind)); err == nil {
				rows[i].Records = n
			}
		}
	}
	return engine.WriteUsage(g.stdout, rows)
}
