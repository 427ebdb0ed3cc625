package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
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
	src, dst, err := openBuckets(c.Context, cfg, conc)
	if err != nil {
		return err
	}
	shown, warned := 0, 0
	sum, err := engine.Verify(c.Context, db, src, dst, engine.VerifyOptions{
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

// kindNamesOf parses --only into kind names; "" gives nil (all).
func kindNamesOf(only string) ([]string, error) {
	if only == "" {
		return nil, nil
	}
	kinds, err := catalog.ParseKinds(only)
	if err != nil {
		return nil, usageErrorf("--only "+kindList(), "--only: %v", err)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return names, nil
}

// openPlannedCheckpoint opens the configured checkpoint, which plan must have made, and checks
// that it was planned for the configured buckets.
func openPlannedCheckpoint(g *globals, cfg *Config, readOnly bool) (*checkpoint.DB, string, error) {
	if err := cfg.requireS3(); err != nil {
		return nil, "", err
	}
	path := cfg.checkpointPath(g.checkpoint)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, "", usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	db, err := openCheckpoint(path, readOnly)
	if err != nil {
		return nil, "", err
	}
	if err := checkLocations(db, cfg, false); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, path, nil
}

// openBuckets makes the source and destination clients and checks both buckets.
func openBuckets(ctx context.Context, cfg *Config, conc int) (src, dst *storage.Client, err error) {
	srcCfg, dstCfg := *cfg.Source, *cfg.Destination
	srcCfg.MaxConns = max(srcCfg.MaxConns, conc, storage.DefaultMaxConns)
	dstCfg.MaxConns = max(dstCfg.MaxConns, conc, storage.DefaultMaxConns)
	if src, err = storage.New(srcCfg); err != nil {
		return nil, nil, &configError{"s3.source", "", err.Error()}
	}
	if dst, err = storage.New(dstCfg); err != nil {
		return nil, nil, &configError{"s3.destination", "", err.Error()}
	}
	for _, cl := range []*storage.Client{src, dst} {
		if err := cl.CheckBucket(ctx); err != nil {
			return nil, nil, err
		}
	}
	return src, dst, nil
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
	_, dst, err := openBuckets(c.Context, cfg, conc)
	if err != nil {
		return err
	}
	mastodonPolicy := cfg.ACLPolicy == aclPolicyMastodon && cfg.Destination.ACL != ""
	shown := 0
	sum, err := engine.VerifyPublic(c.Context, db, dst, engine.VerifyPublicOptions{
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
