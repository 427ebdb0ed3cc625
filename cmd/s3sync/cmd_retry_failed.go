package main

import (
	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
)

func newRetryFailedCommand(g *globals) *cli.Command {
	var o copyOptions
	var includeMissing bool
	return &cli.Command{
		Name:  "retry-failed",
		Usage: "put failed objects (and with --include-missing, missing ones) back to pending and copy them",
		Description: "Puts the failed objects (with --include-missing, the missing ones too) back to pending and\n" +
			"copies them as copy --resume does. Exit 3 when some still fail.\n\n" +
			"Example:\n  s3sync retry-failed\n  s3sync retry-failed --include-missing --only media_attachments",
		Flags: append(copyFlags(&o, false),
			&cli.BoolFlag{Name: "include-missing", Usage: "also retry objects that were absent at the source", Destination: &includeMissing},
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to retry (default all)", Destination: &o.only},
		),
		Action: func(c *cli.Context) error {
			statuses := []checkpoint.Status{checkpoint.Failed}
			if includeMissing {
				statuses = append(statuses, checkpoint.Missing)
			}
			return runCopy(c, g, o, statuses)
		},
	}
}
