package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/text"
	"github.com/s3sync/s3sync/storage"
)

type fixACLOptions struct {
	only        string
	concurrency int
}

func newFixACLCommand(g *globals) *cli.Command {
	var o fixACLOptions
	return &cli.Command{
		Name:  "fix-acl",
		Usage: "re-apply the destination's ACL policy to objects already done",
		Description: "Sets the canned ACL of every done object at the destination (PutObjectAcl) as copy would:\n" +
			"[s3.destination] acl, and with acl_policy = mastodon private for the media of suspended accounts\n" +
			"(as of the last plan). For destinations filled by other tools or before the policy changed.\n" +
			"Objects that vanished from the destination are counted and listed, never fatal; `s3sync verify`\n" +
			"marks them failed for retry-failed. Exit 0 unless an ACL could not be set for another reason.\n\n" +
			"Example:\n  s3sync fix-acl --only media_attachments,accounts",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to fix (default all)", Destination: &o.only},
			&cli.IntFlag{Name: "concurrency", Usage: "PutObjectAcl requests in flight", DefaultText: "[sync] concurrency", Destination: &o.concurrency},
		},
		Action: func(c *cli.Context) error { return runFixACL(c, g, o) },
	}
}

func runFixACL(c *cli.Context, g *globals, o fixACLOptions) error {
	if err := checkConcurrencyFlag(o.concurrency); err != nil {
		return err
	}
	kinds, err := kindNamesOf(o.only)
	if err != nil {
		return err
	}
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	if cfg.Destination.ACL == "" {
		return usageErrorf("[s3.destination]\nacl = public-read", "[s3.destination] acl is empty: no ACL is sent, so there is none to fix")
	}
	db, _, err := openPlannedCheckpoint(g, cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	conc := cfg.Concurrency
	if o.concurrency > 0 {
		conc = o.concurrency
	}
	dst, err := openDestination(c.Context, cfg, conc)
	if err != nil {
		return err
	}
	const show = 50
	vanished, failed := 0, 0
	sum, err := engine.FixACL(c.Context, db, dst, engine.FixACLOptions{Retries: cfg.requestRetries(),
		Kinds: kinds, Concurrency: conc, ACL: cfg.Destination.ACL, PrivateACL: cfg.privateACL(),
		OnVanished: func(key string) {
			if vanished < show {
				fmt.Fprintf(g.stdout, "vanished: %s\n", key)
			}
			vanished++
		},
		OnError: func(key string, err error) {
			if failed < show {
				fmt.Fprintf(g.stdout, "error: %s: %s\n", key, text.OneLine(err.Error()))
			}
			failed++
		},
	})
	fmt.Fprintf(g.stdout, "fix-acl: %d object(s) set (%d %s, %d %s), %d vanished from the destination, %d error(s)\n",
		sum.Set, sum.Set-sum.Private, cfg.Destination.ACL, sum.Private, orDefault(cfg.privateACL(), cfg.Destination.ACL), sum.Vanished, sum.Errors)
	if sum.Vanished > 0 {
		fmt.Fprintln(g.stdout, "vanished objects are not errors here; `s3sync verify` marks them failed so that `s3sync retry-failed` copies them again")
	}
	if err != nil {
		if c.Context.Err() != nil {
			return errInterrupted
		}
		if storage.IsACLUnsupported(err) {
			return fmt.Errorf("the destination does not take object ACLs (PutObjectAcl), so fix-acl cannot work there: %w", err)
		}
		return err
	}
	if sum.Errors > 0 {
		return fmt.Errorf("fix-acl: %d object(s) kept their old ACL (see the error lines above)", sum.Errors)
	}
	return nil
}

// orDefault returns a, or b when a is empty.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
