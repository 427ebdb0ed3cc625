package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

type verifyOptions struct {
	sample      int
	all         bool
	only        string
	concurrency int
	rate        float64
	merge       bool // the arguments are checkpoints (shards) to verify in turn
	public      bool // fetch as a visitor from public_url instead
}

// defaultPublicSample is how many done objects verify --public fetches unless told otherwise:
// a visitor's GET moves the whole body, so all of a large bucket would cost its size in egress.
const defaultPublicSample = 100

func newVerifyCommand(g *globals) *cli.Command {
	var o verifyOptions
	return &cli.Command{
		Name:  "verify",
		Usage: "check done objects at the destination against their source; --public: as a visitor sees them",
		Description: "Checks with HEAD that every done object (or a random sample) is at the destination with its\n" +
			"source's size (the size copied when the source is gone), the source's ETag when both are plain\n" +
			"MD5s, and the Content-Type and Cache-Control the copy set. Mismatches are marked failed with the\n" +
			"reason, so `s3sync retry-failed` copies them again; an original whose source differs from the\n" +
			"database's size is a warning. Exit 0 only when everything checked is right, 3 otherwise.\n" +
			"--public fetches done objects anonymously from [s3.destination] public_url, as a visitor's\n" +
			"browser does (a sample of 100 unless --all or --sample N), and reports without changing them.\n" +
			"Example: s3sync verify --sample 1000; s3sync verify --public",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "sample", Usage: "check `N` done objects picked at random", DefaultText: "all", Destination: &o.sample},
			&cli.BoolFlag{Name: "all", Usage: "check every done object (the default)", Destination: &o.all},
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to check (default all)", Destination: &o.only},
			&cli.IntFlag{Name: "concurrency", Usage: "HEAD requests in flight", DefaultText: "[sync] concurrency", Destination: &o.concurrency},
			&cli.Float64Flag{Name: "rate", Usage: "at most `N` HEAD requests per second over both buckets; 0 = unlimited", Value: 200, Destination: &o.rate},
			mergeFlag("verify", &o.merge),
			&cli.BoolFlag{Name: "public", Usage: "fetch done objects anonymously from [s3.destination] public_url, as a visitor would (default a sample of 100; --all for every one)", Destination: &o.public},
		},
		Action: func(c *cli.Context) error { return runVerify(c, g, o) },
	}
}

func runVerify(c *cli.Context, g *globals, o verifyOptions) error {
	if o.all && o.sample > 0 {
		return usageErrorf("s3sync verify --sample N, or s3sync verify --all", "--sample and --all exclude each other")
	}
	if o.sample < 0 {
		return usageErrorf("", "--sample must not be negative")
	}
	if err := checkConcurrencyFlag(o.concurrency); err != nil {
		return err
	}
	if err := checkRequestRate("--rate", o.rate); err != nil {
		return err
	}
	kinds, err := kindNamesOf(o.only)
	if err != nil {
		return err
	}
	cfg, err := g.config()
	if err != nil {
		return err
	}
	conc := cfg.Concurrency
	if o.concurrency > 0 {
		conc = o.concurrency
	}
	if o.merge || c.Args().Len() > 0 {
		if o.public {
			return usageErrorf("s3sync verify --public", "--public verifies one checkpoint, not --merge")
		}
		return runVerifyMerge(c, g, o, cfg, kinds, conc)
	}
	if o.public {
		return runVerifyPublic(c, g, o, cfg, kinds, conc)
	}
	db, _, err := openPlannedCheckpoint(g, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	src, dst, err := openBuckets(c.Context, cfg, conc, nil)
	if err != nil {
		return err
	}
	shown, warned := 0, 0
	sum, err := engine.Verify(c.Context, db, src, dst, engine.VerifyOptions{Retries: cfg.requestRetries(),
		Kinds: kinds, Sample: o.sample, Concurrency: conc, Rate: o.rate,
		OnProblem: func(p engine.VerifyProblem) {
			if shown < 50 {
				fmt.Fprintf(g.stdout, "problem: %s: %s\n", p.Key, p.Reason)
			}
			shown++
		},
		OnWarning: func(p engine.VerifyProblem) {
			if warned < 20 {
				fmt.Fprintf(g.stdout, "warning: %s: copied as the source has it, but %s\n", p.Key, p.Reason)
			}
			warned++
		},
	})
	if shown > 50 {
		fmt.Fprintf(g.stdout, "... and %d more problem(s): s3sync report --status failed\n", shown-50)
	}
	if warned > 20 {
		fmt.Fprintf(g.stdout, "... and %d more warning(s)\n", warned-20)
	}
	fmt.Fprintf(g.stdout, "verified %d object(s): %d right, %d problem(s)\n", sum.Checked, sum.OK, sum.Problems)
	if sum.Warnings > 0 {
		fmt.Fprintf(g.stdout, "%d object(s) differ from what the database records at the source too: the destination holds what Mastodon stored; copying again would not change it\n", sum.Warnings)
	}
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if sum.Problems > 0 {
		fmt.Fprintln(g.stdout, "next: s3sync retry-failed, then s3sync verify again")
		return &failedObjectsError{n: sum.Problems}
	}
	return nil
}

// runVerifyPublic is verify --public: done objects fetched as a visitor would.
func runVerifyPublic(c *cli.Context, g *globals, o verifyOptions, cfg *Config, kinds []string, conc int) error {
	if !publicACL(cfg.Destination.ACL) {
		return usageErrorf("", "verify --public: [s3.destination] acl = %s writes no object for visitors; nothing to check", cfg.Destination.ACL)
	}
	sample := o.sample
	if sample == 0 && !o.all {
		sample = defaultPublicSample
	}
	db, _, err := openPlannedCheckpoint(g, cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	_, dst, err := openBuckets(c.Context, cfg, conc, nil)
	if err != nil {
		return err
	}
	mastodonPolicy := cfg.ACLPolicy == aclPolicyMastodon && cfg.Destination.ACL != ""
	shown := 0
	sum, err := engine.VerifyPublic(c.Context, db, dst, engine.VerifyPublicOptions{Retries: cfg.requestRetries(),
		Kinds: kinds, Sample: sample, Concurrency: conc,
		Public: func(ob checkpoint.Object) bool { return !(mastodonPolicy && ob.Private) },
		OnProblem: func(p engine.VerifyProblem) {
			if shown < 50 {
				fmt.Fprintf(g.stdout, "problem: %s: %s\n", p.Key, p.Reason)
			}
			shown++
		},
	})
	if shown > 50 {
		fmt.Fprintf(g.stdout, "... and %d more problem(s)\n", shown-50)
	}
	fmt.Fprintf(g.stdout, "fetched %d object(s) as a visitor from %s: %d as they should be, %d problem(s)",
		sum.Checked, strings.TrimSuffix(dst.PublicURL("x"), "/x"), sum.OK, sum.Problems)
	if sum.Private > 0 {
		fmt.Fprintf(g.stdout, " (%d of a suspended account, which must not be readable)", sum.Private)
	}
	fmt.Fprintln(g.stdout)
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if sum.Problems > 0 {
		return &failedObjectsError{n: sum.Problems, msg: fmt.Sprintf("%d object(s) are not as visitors should see them. "+
			"Give the bucket a policy that lets anyone read its objects, or set [s3.destination] public_url to your CDN or S3_ALIAS_HOST; "+
			"for suspended accounts' media that anyone can read, run s3sync fix-acl and check that the provider honours object ACLs", sum.Problems)}
	}
	return nil
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
	src, dst, err := openBuckets(c.Context, cfg, conc, nil)
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
		sum, err := engine.Verify(c.Context, db, src, dst, engine.VerifyOptions{Retries: cfg.requestRetries(),
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
	return counts.Sum(checkpoint.Done, kinds...).Objects, nil
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
