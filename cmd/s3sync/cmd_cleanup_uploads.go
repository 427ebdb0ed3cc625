package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/engine"
)

type cleanupUploadsOptions struct {
	all    bool
	dryRun bool
}

func newCleanupUploadsCommand(g *globals) *cli.Command {
	var o cleanupUploadsOptions
	return &cli.Command{
		Name:  "cleanup-uploads",
		Usage: "abort the unfinished multipart uploads an interrupted copy left at the destination",
		Description: "A copy records each multipart upload in the checkpoint before its first part. A killed copy leaves\n" +
			"the upload at the destination: its parts are stored (and billed) but belong to no object.\n" +
			"`copy --resume` aborts those by itself; cleanup-uploads does it without copying, and lists the\n" +
			"other incomplete uploads under Mastodon's prefixes. --all aborts those too: use it only while\n" +
			"nothing else (Mastodon after the switch, another tool) uploads to the destination bucket.\n" +
			"Example: s3sync cleanup-uploads --dry-run",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "also abort incomplete uploads under Mastodon's prefixes that s3sync did not record", Destination: &o.all},
			&cli.BoolFlag{Name: "dry-run", Usage: "list, abort nothing", Destination: &o.dryRun},
		},
		Action: func(c *cli.Context) error { return runCleanupUploads(c, g, o) },
	}
}

func runCleanupUploads(c *cli.Context, g *globals, o cleanupUploadsOptions) error {
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	db, _, err := openPlannedCheckpoint(g, cfg, o.dryRun)
	if err != nil {
		return err
	}
	defer db.Close()
	dst, err := openDestination(c.Context, cfg, 0)
	if err != nil {
		return err
	}
	if !o.dryRun {
		n, err := engine.AbortRecordedUploads(c.Context, db, dst)
		fmt.Fprintf(g.stdout, "aborted %d multipart upload(s) that s3sync recorded\n", n)
		if err != nil {
			return err
		}
	}
	ups, err := engine.IncompleteUploads(c.Context, dst, db)
	if err != nil {
		return err
	}
	aborted, left := 0, 0
	for _, u := range ups {
		who := "not recorded by s3sync"
		if u.Recorded {
			who = "recorded by s3sync"
		}
		switch {
		case o.dryRun || (!u.Recorded && !o.all):
			fmt.Fprintf(g.stdout, "incomplete: %s (upload %s, started %s, %s)\n", u.Key, u.UploadID, u.Initiated.UTC().Format(time.RFC3339), who)
			left++
		default:
			if err := dst.AbortUpload(c.Context, u.Key, u.UploadID); err != nil {
				return err
			}
			if u.Recorded {
				if err := db.ForgetUpload(u.UploadID); err != nil {
					return fmt.Errorf("checkpoint: %w", err)
				}
			}
			fmt.Fprintf(g.stdout, "aborted: %s (upload %s)\n", u.Key, u.UploadID)
			aborted++
		}
	}
	if aborted > 0 {
		fmt.Fprintf(g.stdout, "aborted %d more incomplete upload(s) under Mastodon's prefixes\n", aborted)
	}
	if left > 0 && !o.dryRun {
		fmt.Fprintf(g.stdout, "%d incomplete upload(s) under Mastodon's prefixes left alone: s3sync did not start them; "+
			"`s3sync cleanup-uploads --all` aborts them when nothing else uploads to the bucket\n", left)
	}
	if left == 0 && aborted == 0 {
		fmt.Fprintln(g.stdout, "no incomplete multipart upload under Mastodon's prefixes at the destination")
	}
	return nil
}
