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
