package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
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
			"failed and missing ones. While a copy runs, the table comes from its status snapshot.\n\n" +
			"Example:\n" +
			"  s3sync report\n" +
			"  s3sync report --format csv --status missing --output missing.csv\n" +
			"  s3sync report --merge private/s3sync-*-of-4.db",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table, csv or json", Destination: &o.format},
			&cli.StringFlag{Name: "status", Usage: "comma-separated `STATUSES` (pending,done,failed,missing,stale); csv/json default failed,missing", Destination: &o.status},
			&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS`", Destination: &o.only},
			&cli.StringFlag{Name: "output", TakesFile: true, Usage: "write to `FILE` instead of standard output", Destination: &o.output},
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
	if err := checkOutput(o.output, g.protectedFiles(path)); err != nil {
		return err
	}
	db, locked, err := peekCheckpoint(path, time.Second)
	if err != nil {
		return err
	}
	if db != nil {
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
		var counts checkpoint.Counts
		if counts, err = db.Counts(); err == nil {
			err = engine.WriteTable(w, counts, kinds, statuses)
		}
		if err == nil && (len(statuses) == 0 || slices.Contains(statuses, checkpoint.Done)) {
			err = writeFound(w, db, kinds)
		}
		if err == nil && (len(statuses) == 0 || slices.Contains(statuses, checkpoint.Missing)) {
			err = writeRefetchable(w, db, kinds)
		}
		if err == nil {
			err = writeSetAside(w, db)
		}
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return commitReport(g, out, o.output)
}

// writeFound says, below the table, how many done objects were not copied because the
// destination already held them (checkpoint.Object.Found): Mastodon wrote them there after the
// switch, or holds a newer version there than the source's. Nothing when there are none.
func writeFound(w io.Writer, db *checkpoint.DB, kinds []string) error {
	found, err := db.FoundCounts()
	if err != nil {
		return err
	}
	var n int64
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(found)) {
		if len(kinds) == 0 || slices.Contains(kinds, kind) {
			n += found[kind]
			parts = append(parts, fmt.Sprintf("%s %d", kind, found[kind]))
		}
	}
	if n == 0 {
		return nil
	}
	_, err = fmt.Fprintf(w, "\n%d done object(s) were already at the destination and not copied (%s): Mastodon wrote them there after the switch; `s3sync report --format csv --status done` says so in their error column\n",
		n, strings.Join(parts, ", "))
	return err
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
		if addr, err := statusFileAddr(path, st); err != nil { // only a holder's, on loopback
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
	cfg, err := g.optionalConfig()
	if err != nil || cfg == nil {
		return defaultCheckpoint, err
	}
	return cfg.checkpointPath(""), nil
}

// reportFromServer answers a report from the running command's status server. done is false
// when the server cannot answer this report (rows other than failed and missing) or does
// not answer at all; the caller then falls back to the snapshot.
func reportFromServer(ctx context.Context, g *globals, w io.Writer, st engine.Status, format string, kinds []string, statuses []checkpoint.Status) (done bool, err error) {
	token := g.getenv("S3SYNC_STATUS_TOKEN")
	if cfg, err := g.optionalConfig(); err == nil && cfg != nil {
		token = cfg.StatusToken
	}
	client := statusserver.NewClient(st.StatusAddr, token)
	if format != "table" {
		for _, s := range statuses {
			if s != checkpoint.Failed && s != checkpoint.Missing {
				return false, nil
			}
		}
		fmt.Fprintf(g.stderr, "a `s3sync %s` (pid %d) is running; objects as its status server at %s knows them now\n", st.Command, st.PID, st.StatusAddr)
		each := func(yield func(engine.Row) error) error { return client.Failures(ctx, kinds, statuses, yield) }
		if format == "csv" {
			return true, statusServerError(st.StatusAddr, engine.WriteCSVRows(w, each))
		}
		return true, statusServerError(st.StatusAddr, engine.WriteJSONRows(w, each))
	}
	live, err := client.Status(ctx)
	if err != nil {
		if errors.Is(err, statusserver.ErrUnauthorized) {
			return true, statusServerError(st.StatusAddr, err)
		}
		g.log.Warn().Err(err).Msg("the status server does not answer; reporting from the status snapshot")
		return false, nil
	}
	// The server knows the kinds the copy works on; the snapshot knows the others.
	counts := st.Counts
	if counts == nil {
		counts = checkpoint.Counts{}
	}
	for kind, byStatus := range live.Counts() {
		counts[kind] = byStatus
	}
	fmt.Fprintf(g.stderr, "a `s3sync %s` (pid %d) is running; counts as of %s from its status server at %s\n",
		st.Command, st.PID, live.UpdatedAt.Local().Format(time.RFC3339), st.StatusAddr)
	return true, engine.WriteTable(w, counts, kinds, statuses)
}

// writeSetAside prints, below the report table, how many unreadable records `copy
// --skip-corrupt` set aside and were not planned again since; nothing when there are none.
func writeSetAside(w io.Writer, db *checkpoint.DB) error {
	recs, err := db.CorruptRecords()
	if err != nil || len(recs) == 0 {
		return err
	}
	by := map[checkpoint.Status]int{}
	for _, r := range recs {
		by[r.Status]++
	}
	var parts []string
	for _, s := range append(checkpoint.AllStatuses, "") {
		if by[s] > 0 {
			name := string(s)
			if s == "" {
				name = "of no status"
			}
			parts = append(parts, fmt.Sprintf("%d %s", by[s], name))
		}
	}
	_, err = fmt.Fprintf(w, "\n%d unreadable object record(s) set aside by copy --skip-corrupt (%s), not in the counts above; `s3sync plan` plans them again from the database.\n",
		len(recs), strings.Join(parts, ", "))
	return err
}

// runReportMerge is `report --merge a.db b.db …`: the table adds up the counts of every
// checkpoint; csv and json list the rows of each in turn. The checkpoints must have been
// planned for the same buckets, and none may be in use.
func runReportMerge(g *globals, o reportOptions, paths []string, kinds []string, statuses []checkpoint.Status) error {
	if err := mergeArgs("report", o.merge, paths); err != nil {
		return err
	}
	dbs, err := openSet(paths, true)
	defer closeAll(dbs)
	if err != nil {
		return err
	}

	w := g.stdout // reportMergeTo points it at the --output file
	filter := checkpoint.Filter{Kinds: kinds, Statuses: statuses}
	each := func(yield func(engine.Row) error) error {
		for _, db := range dbs {
			if err := engine.EachRow(db, filter)(yield); err != nil {
				return fmt.Errorf("%s: %w", db.Path(), err)
			}
		}
		return nil
	}
	switch o.format {
	case "csv":
		err = engine.WriteCSVRows(w, each)
	case "json":
		err = engine.WriteJSONRows(w, each)
	default:
		all := make([]checkpoint.Counts, 0, len(dbs))
		for _, db := range dbs {
			counts, cerr := db.Counts()
			if cerr != nil {
				return fmt.Errorf("report: %s: %w", db.Path(), cerr)
			}
			all = append(all, counts)
		}
		err = engine.WriteTable(w, checkpoint.Merge(all...), kinds, statuses)
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// refetchChunk bounds the record ids per printed command line.
const refetchChunk = 200

// writeRefetchable lists, after the table report, the missing objects that are cached copies
// of remote media (Object.Remote): Mastodon can fetch them again from their origin, by the
// commands catalog.RefetchCommand writes. Media of no status (Object.NoStatus) cannot be
// refreshed by status: they are counted and listed apart. Kinds without such a command are
// left out. It then says what holds for every re-fetch: Mastodon stores
// a re-fetched file under a new name (plan must run again before copy --resume), and it never
// fetches media of domains blocked with reject_media. Nothing is printed when no such object
// is missing. Like the rest of the per-object detail, it is not part of `report --merge`.
func writeRefetchable(w io.Writer, db *checkpoint.DB, kinds []string) error {
	ids := map[string][]int64{}
	objs := map[string]int64{}
	var noStatus []int64 // media records of no status, in id order
	var noStatusObjs int64
	err := db.Each(checkpoint.Filter{Kinds: kinds, Statuses: []checkpoint.Status{checkpoint.Missing}}, func(o checkpoint.Object) error {
		if !o.Remote || catalog.RefetchCommand(catalog.Kind(o.Kind), nil) == "" {
			return nil
		}
		if o.NoStatus && catalog.Kind(o.Kind) == catalog.MediaAttachments {
			noStatusObjs++
			if len(noStatus) == 0 || noStatus[len(noStatus)-1] != o.RecordID { // Each goes in record id order
				noStatus = append(noStatus, o.RecordID)
			}
			return nil
		}
		objs[o.Kind]++
		if l := ids[o.Kind]; len(l) == 0 || l[len(l)-1] != o.RecordID {
			ids[o.Kind] = append(l, o.RecordID)
		}
		return nil
	})
	if err != nil || (len(objs) == 0 && noStatusObjs == 0) {
		return err
	}
	total := noStatusObjs
	names := make([]string, 0, len(objs))
	for k, n := range objs {
		total += n
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "\n%d missing object(s) are cached remote media Mastodon can fetch again from their origin:\n", total)
	for _, k := range names {
		fmt.Fprintf(w, "  %s: %d object(s) of %d record(s)\n", k, objs[k], len(ids[k]))
	}
	if noStatusObjs > 0 {
		fmt.Fprintf(w, "  media_attachments of no status: %d object(s) of %d record(s), out of reach of tootctl media refresh --status\n",
			noStatusObjs, len(noStatus))
	}
	for _, k := range names {
		for chunk := range slices.Chunk(ids[k], refetchChunk) {
			if line := catalog.RefetchCommand(catalog.Kind(k), chunk); line != "" {
				fmt.Fprintln(w, line)
			}
		}
	}
	if len(noStatus) > 0 {
		fmt.Fprintf(w, "Media of no status (%s), by record id;\n", catalog.NoStatusMedia)
		fmt.Fprintln(w, catalog.NoStatusRefetch+":")
		for chunk := range slices.Chunk(noStatus, refetchChunk) {
			fmt.Fprintln(w, "  "+catalog.JoinIDs(chunk, " "))
		}
	}
	fmt.Fprintln(w, catalog.RefetchRenames+": afterwards run `s3sync plan`, then `s3sync copy --resume`.")
	fmt.Fprintln(w, "Mastodon never fetches media from domains blocked with reject_media; their media stays missing. They are:")
	fmt.Fprintln(w, catalog.RejectMediaQuery)
	return nil
}
