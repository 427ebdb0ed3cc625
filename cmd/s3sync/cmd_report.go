package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

type reportOptions struct {
	format string
	status string
	only   string
	output string
	merge  bool // the arguments are checkpoints (shards) to combine
}

func newReportCommand(g *globals) *cli.Command {
	var o reportOptions
	return &cli.Command{
		Name:  "report",
		Usage: "print what the checkpoint knows: counts per kind and status, or the objects themselves",
		Description: "table: objects and bytes per kind × status. csv and json: one row per object, by default the\n" +
			"failed and missing ones. While a copy runs, the table comes from its status snapshot.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table, csv or json", Destination: &o.format},
			&cli.StringFlag{Name: "status", Usage: "comma-separated `STATUSES` (pending,done,failed,missing); csv/json default failed,missing", Destination: &o.status},
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS`", Destination: &o.only},
			&cli.StringFlag{Name: "output", Usage: "write to `FILE` instead of standard output", Destination: &o.output},
			&cli.BoolFlag{Name: "merge", Usage: "combine the checkpoints given as arguments (shards): report --merge a.db b.db …", Destination: &o.merge},
		},
		Action: func(c *cli.Context) error { return runReport(c, g, o) },
	}
}

func runReport(c *cli.Context, g *globals, o reportOptions) error {
	if o.format != "table" && o.format != "csv" && o.format != "json" {
		return usageErrorf("--format table", "--format %q is not table, csv or json", o.format)
	}
	status := o.status
	if status == "" && o.format != "table" {
		status = "failed,missing"
	}
	var statuses []checkpoint.Status
	if status != "" {
		var err error
		if statuses, err = checkpoint.ParseStatuses(status); err != nil {
			return usageErrorf("--status failed,missing", "--status: %v", err)
		}
	}
	kinds, err := kindNamesOf(o.only)
	if err != nil {
		return err
	}
	if o.merge || c.Args().Len() > 0 {
		return reportMergeTo(g, o, c.Args().Slice(), kinds, statuses)
	}
	path, err := g.reportCheckpointPath()
	if err != nil {
		return err
	}
	if err := checkOutput(o.output, g.protectedFiles(path)); err != nil { // output.go
		return err
	}
	if err := checkCheckpointPath(path); err != nil {
		return err
	}

	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: time.Second})
	locked := errors.Is(err, checkpoint.ErrLocked)
	switch {
	case locked:
	case errors.Is(err, os.ErrNotExist):
		return usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	case err != nil:
		return fmt.Errorf("checkpoint %s: %w", path, err)
	default:
		defer db.Close()
	}

	w := g.stdout
	var out *outputFile // --output: a temporary file, in place only once the report is complete
	if o.output != "" {
		if out, err = createOutput(o.output, 0o666); err != nil {
			return err
		}
		defer out.discard()
		w = out
	}
	if locked {
		if err := reportWhileLocked(c.Context, g, w, path, o.format, kinds, statuses); err != nil {
			return err
		}
		return commitReport(g, out, o.output)
	}

	filter := checkpoint.Filter{Kinds: kinds, Statuses: statuses}
	switch o.format {
	case "csv":
		err = engine.WriteCSV(w, db, filter)
	case "json":
		err = engine.WriteJSON(w, db, filter)
	default:
		var counts map[string]map[checkpoint.Status]checkpoint.Count
		if counts, err = db.Counts(); err == nil {
			err = engine.WriteTable(w, counts, kinds, statuses)
		}
		if err == nil && (len(statuses) == 0 || slices.Contains(statuses, checkpoint.Missing)) {
			err = writeRefetchable(w, db, kinds) // report_refetch.go
		}
		if err == nil {
			err = writeSetAside(w, db) // corrupt.go
		}
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return commitReport(g, out, o.output)
}

// commitReport puts a complete --output report in place; out is nil without --output.
func commitReport(g *globals, out *outputFile, name string) error {
	if out == nil {
		return nil
	}
	if err := out.commit(); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "report written to %s\n", name)
	return nil
}

// reportMergeTo is `report --merge` with --output checked against every checkpoint given,
// and written through a temporary file like every --output (runReportMerge writes to the
// stdout it is given).
func reportMergeTo(g *globals, o reportOptions, paths []string, kinds []string, statuses []checkpoint.Status) error {
	if o.output == "" {
		return runReportMerge(g, o, paths, kinds, statuses)
	}
	if err := checkOutput(o.output, g.protectedFiles(paths...)); err != nil {
		return err
	}
	out, err := createOutput(o.output, 0o666)
	if err != nil {
		return err
	}
	defer out.discard()
	to := *g
	to.stdout = out
	merged := o
	merged.output = ""
	if err := runReportMerge(&to, merged, paths, kinds, statuses); err != nil {
		return err
	}
	return commitReport(g, out, o.output)
}

// reportWhileLocked answers for the command holding the checkpoint: from its status server
// when it has one (live counts; failed and missing objects row by row), else from the status
// snapshot it writes (counts only).
func reportWhileLocked(ctx context.Context, g *globals, w io.Writer, path, format string, kinds []string, statuses []checkpoint.Status) error {
	st, err := engine.ReadStatus(engine.StatusPath(path))
	if err != nil || !st.Alive() {
		return fmt.Errorf("checkpoint %s is in use by another s3sync process; try again when it has finished", path)
	}
	if st.StatusAddr != "" {
		if addr, err := statusFileAddr(path, st); err != nil { // cmd_status.go: only a holder's, on loopback
			g.log.Warn().Msg(err.Error() + "; reporting from the status snapshot")
		} else {
			st.StatusAddr = addr
			done, err := reportFromServer(ctx, g, w, st, format, kinds, statuses)
			if done || err != nil {
				return err
			}
		}
	}
	if format != "table" || st.Counts == nil {
		return fmt.Errorf("checkpoint %s is in use by a running `s3sync %s` (pid %d); only the table report is available while it runs (its snapshot); for per-object rows wait for it to finish, or stop it with Ctrl-C and resume later", path, st.Command, st.PID)
	}
	fmt.Fprintf(g.stderr, "a `s3sync %s` (pid %d) is running; counts as of %s\n", st.Command, st.PID, st.UpdatedAt.Format(time.RFC3339))
	return engine.WriteTable(w, st.Counts, kinds, statuses)
}

// reportCheckpointPath finds the checkpoint without requiring a config file: report works
// with --checkpoint alone.
func (g *globals) reportCheckpointPath() (string, error) {
	if g.checkpoint != "" {
		return g.checkpoint, nil
	}
	path, explicit := configPath(g.configFlag, g.getenv)
	if _, err := os.Stat(path); err != nil && !explicit {
		return defaultCheckpoint, nil
	}
	cfg, err := g.config()
	if err != nil {
		return "", err
	}
	return cfg.checkpointPath(""), nil
}

// reportFromServer answers a report from the running command's status server. done is false
// when the server cannot answer this report (rows other than failed and missing) or does
// not answer at all; the caller then falls back to the snapshot.
func reportFromServer(ctx context.Context, g *globals, w io.Writer, st engine.Status, format string, kinds []string, statuses []checkpoint.Status) (done bool, err error) {
	token := g.getenv("S3SYNC_STATUS_TOKEN")
	if path, explicit := configPath(g.configFlag, g.getenv); explicit || fileExists(path) {
		if cfg, err := g.config(); err == nil {
			token = cfg.StatusToken
		}
	}
	client := newStatusClient(st.StatusAddr, token)
	if format != "table" {
		for _, s := range statuses {
			if s != checkpoint.Failed && s != checkpoint.Missing {
				return false, nil
			}
		}
		fmt.Fprintf(g.stderr, "a `s3sync %s` (pid %d) is running; objects as its status server at %s knows them now\n", st.Command, st.PID, st.StatusAddr)
		each := func(yield func(engine.Row) error) error { return client.failures(ctx, kinds, statuses, yield) }
		if format == "csv" {
			return true, engine.WriteCSVRows(w, each)
		}
		return true, engine.WriteJSONRows(w, each)
	}
	live, err := client.status(ctx)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return true, err
		}
		g.log.Warn().Err(err).Msg("the status server does not answer; reporting from the status snapshot")
		return false, nil
	}
	// The server knows the kinds the copy works on; the snapshot knows the others.
	counts := st.Counts
	if counts == nil {
		counts = map[string]map[checkpoint.Status]checkpoint.Count{}
	}
	for kind, byStatus := range countsOf(live) {
		counts[kind] = byStatus
	}
	fmt.Fprintf(g.stderr, "a `s3sync %s` (pid %d) is running; counts as of %s from its status server at %s\n",
		st.Command, st.PID, live.UpdatedAt.Local().Format(time.RFC3339), st.StatusAddr)
	return true, engine.WriteTable(w, counts, kinds, statuses)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
