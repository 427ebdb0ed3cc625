package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// mergeFlag is --merge of usage and verify (report declares its own).
func mergeFlag(command string, dst *bool) cli.Flag {
	return &cli.BoolFlag{Name: "merge", Usage: "combine the checkpoints given as arguments (shards): " + command + " --merge a.db b.db …", Destination: dst}
}

// openMerged opens the checkpoints of `<command> --merge a.db b.db …`: each must exist, have
// been planned for the configured buckets, and hold a shard no other one holds. A checkpoint
// in use by another s3sync (a running copy) is refused before any is used. The caller closes
// the returned checkpoints, also on error (those opened so far).
func openMerged(cfg *Config, command string, merge bool, paths []string, readOnly bool) ([]*checkpoint.DB, error) {
	if !merge {
		return nil, usageErrorf("s3sync "+command+" --merge "+joinArgs(paths), "%s takes checkpoints as arguments only with --merge", command)
	}
	if len(paths) == 0 {
		return nil, usageErrorf("s3sync "+command+" --merge private/s3sync-*-of-4.db", "--merge needs the checkpoints to combine as arguments")
	}
	if err := cfg.requireS3(); err != nil {
		return nil, err
	}
	var dbs []*checkpoint.DB
	shards := map[string]string{}
	byPath := map[string]bool{}
	for _, path := range paths {
		if byPath[path] {
			return dbs, usageErrorf("", "checkpoint %s is given twice", path)
		}
		byPath[path] = true
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return dbs, usageErrorf("", "checkpoint %s does not exist", path)
		}
		db, err := openCheckpoint(path, readOnly)
		if err != nil {
			return dbs, err
		}
		dbs = append(dbs, db)
		if err := checkLocations(db, cfg, false); err != nil {
			return dbs, err
		}
		if sh, _ := db.GetMeta(metaShard); sh != "" && sh != "all" {
			if other, dup := shards[sh]; dup {
				return dbs, usageErrorf("", "checkpoints %s and %s are both shard %s", other, path, sh)
			}
			shards[sh] = path
		}
	}
	return dbs, nil
}

func closeAll(dbs []*checkpoint.DB) {
	for _, db := range dbs {
		db.Close()
	}
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

// runVerifyMerge is `verify --merge a.db b.db …`: each checkpoint verified in turn, a mismatch
// marked failed in the checkpoint that holds the object. --sample N is spread over the
// checkpoints in proportion to their done objects.
func runVerifyMerge(c *cli.Context, g *globals, o verifyOptions, cfg *Config, kinds []string, conc int) error {
	dbs, err := openMerged(cfg, "verify", o.merge, c.Args().Slice(), false)
	defer closeAll(dbs)
	if err != nil {
		return err
	}
	samples := make([]int, len(dbs))
	if o.sample > 0 {
		done := make([]int64, len(dbs))
		for i, db := range dbs {
			if done[i], err = doneObjects(db, kinds); err != nil {
				return fmt.Errorf("verify: %s: %w", db.Path(), err)
			}
		}
		samples = spreadSample(o.sample, done)
	}
	src, dst, err := openBuckets(c.Context, cfg, conc)
	if err != nil {
		return err
	}
	var total engine.VerifySummary
	var withProblems []string
	shown := 0
	for i, db := range dbs {
		if o.sample > 0 && samples[i] == 0 {
			continue // nothing of the sample falls to this checkpoint
		}
		sum, err := engine.Verify(c.Context, db, src, dst, engine.VerifyOptions{
			Kinds: kinds, Sample: samples[i], Concurrency: conc, Rate: o.rate,
			OnProblem: func(p engine.VerifyProblem) {
				if shown < 50 {
					fmt.Fprintf(g.stdout, "problem: %s: %s\n", p.Key, p.Reason)
				}
				shown++
			},
		})
		total.Checked += sum.Checked
		total.OK += sum.OK
		total.Problems += sum.Problems
		if sum.Problems > 0 {
			withProblems = append(withProblems, db.Path())
		}
		fmt.Fprintf(g.stdout, "%s: verified %d object(s): %d right, %d problem(s)\n", db.Path(), sum.Checked, sum.OK, sum.Problems)
		if err != nil {
			if c.Context.Err() != nil {
				return errInterrupted
			}
			return fmt.Errorf("verify: %s: %w", db.Path(), err)
		}
	}
	if shown > 50 {
		fmt.Fprintf(g.stdout, "... and %d more problem(s): s3sync report --merge --status failed %s\n", shown-50, joinArgs(c.Args().Slice()))
	}
	fmt.Fprintf(g.stdout, "verified %d object(s): %d right, %d problem(s) in %d checkpoints\n", total.Checked, total.OK, total.Problems, len(dbs))
	if total.Problems > 0 {
		for _, path := range withProblems {
			fmt.Fprintf(g.stdout, "next: s3sync --checkpoint %s retry-failed\n", shellQuote(path))
		}
		fmt.Fprintln(g.stdout, "then: s3sync verify --merge "+joinArgs(c.Args().Slice()))
		return &failedObjectsError{n: total.Problems}
	}
	return nil
}

// doneObjects counts the done objects of kinds (all when empty) in db.
func doneObjects(db *checkpoint.DB, kinds []string) (int64, error) {
	counts, err := db.Counts()
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	var n int64
	for kind, byStatus := range counts {
		if len(want) == 0 || want[kind] {
			n += byStatus[checkpoint.Done].Objects
		}
	}
	return n, nil
}

// spreadSample divides a sample of n objects over parts holding weights[i] objects each, in
// proportion (largest remainder), never more than a part holds.
func spreadSample(n int, weights []int64) []int {
	out := make([]int, len(weights))
	var total int64
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		return out
	}
	if int64(n) >= total {
		for i, w := range weights {
			out[i] = int(w)
		}
		return out
	}
	given := 0
	rem := make([]int64, len(weights))
	for i, w := range weights {
		q := int64(n) * w
		out[i] = int(q / total)
		rem[i] = q % total
		given += out[i]
	}
	for ; given < n; given++ {
		best := -1
		for i := range weights {
			if int64(out[i]) < weights[i] && (best < 0 || rem[i] > rem[best]) {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}
