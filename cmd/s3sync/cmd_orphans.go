package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/human"
)

type orphansOptions struct {
	output string
}

func newOrphansCommand(g *globals) *cli.Command {
	var o orphansOptions
	return &cli.Command{
		Name:  "orphans",
		Usage: "list source keys the database does not reference (never deletes)",
		Description: "Lists the source bucket page by page and writes, as CSV (key,size,last_modified,reason), every\n" +
			"key no record of the Mastodon database references, then the totals: what a bucket-wide copy\n" +
			"would move for nothing. reason is unreferenced (Mastodon's layout, no such record or file) or\n" +
			"not mastodon (outside its layout). Nothing is deleted.\n\n" +
			"Example:\n  s3sync orphans --output orphans.csv",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", TakesFile: true, Aliases: []string{"o"}, Usage: "write the CSV to `FILE` instead of standard output", Destination: &o.output},
		},
		Action: func(c *cli.Context) error { return runOrphans(c, g, o) },
	}
}

func runOrphans(c *cli.Context, g *globals, o orphansOptions) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.Source == nil {
		return &configError{"s3.source", "", "section missing: orphans lists the source bucket"}
	}
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	if err := checkOutput(o.output, g.protectedFiles(cfg.checkpointPath(g.checkpoint))); err != nil {
		return err
	}
	src, err := openSource(c.Context, cfg, 0)
	if err != nil {
		return err
	}
	reader, closeReader, err := openCatalog(c.Context, g, cfg)
	if err != nil {
		return err
	}
	defer closeReader()

	var out io.Writer = g.stdout
	summary := g.stdout
	var file *outputFile // --output: a temporary file, in place only once the listing is complete
	if o.output != "" {
		if file, err = createOutput(o.output, 0o600); err != nil {
			return err
		}
		defer file.discard()
		out = file
	} else {
		summary = g.stderr
	}
	tot, err := engine.Orphans(c.Context, src, reader, out)
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if file != nil {
		if err := file.commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(summary, "listed %d key(s), %s; orphans %d, %s (of which outside Mastodon's layout %d, %s)\n",
		tot.Listed, human.Bytes(tot.ListedBytes), tot.Orphans, human.Bytes(tot.OrphanBytes),
		tot.Foreign, human.Bytes(tot.ForeignBytes))
	return nil
}
