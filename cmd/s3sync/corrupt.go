package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/s3sync/s3sync/checkpoint"
)

// maxListedCorrupt is how many set-aside records `copy --skip-corrupt` names one by one.
const maxListedCorrupt = 50

// setAsideCorrupt is `copy --skip-corrupt` (and `retry-failed --skip-corrupt`): it moves the
// checkpoint's unreadable object records into its corrupt bucket (checkpoint.SetAsideCorrupt),
// mends the status indexes and counters, and says what it did.
func setAsideCorrupt(g *globals, db *checkpoint.DB) error {
	rep, err := db.SetAsideCorrupt()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", db.Path(), err)
	}
	if n := len(rep.Records); n > 0 {
		fmt.Fprintf(g.stdout, "set aside %d unreadable object record(s) of checkpoint %s: they are no longer copied or counted, and `s3sync plan` plans them again from the database:\n", n, db.Path())
		for i, r := range rep.Records {
			if i == maxListedCorrupt {
				fmt.Fprintf(g.stdout, "  … and %d more\n", n-maxListedCorrupt)
				break
			}
			was := "listed in no status index"
			if r.Status != "" {
				was = "was " + string(r.Status)
			}
			fmt.Fprintf(g.stdout, "  %s (%s): %s\n", quoteRecordID(r.ID), was, r.Reason)
		}
	}
	if rep.IndexEntries > 0 {
		fmt.Fprintf(g.stdout, "mended %d status index entr(ies) of checkpoint %s that disagreed with the records\n", rep.IndexEntries, db.Path())
	}
	if rep.CountersFixed && len(rep.Records) == 0 {
		fmt.Fprintf(g.stdout, "recounted the counters of checkpoint %s, which disagreed with the records\n", db.Path())
	}
	g.log.Info().Int("checked", rep.Objects).Int("set_aside", len(rep.Records)).Int("index_entries", rep.IndexEntries).
		Bool("counters_recounted", rep.CountersFixed).Msg("checked every object record of the checkpoint")
	return nil
}

// explainCorrupt turns an unreadable record met by copy or retry-failed into an error that
// names it and gives the command line that gets past it.
func explainCorrupt(g *globals, path string, err error) error {
	var re *checkpoint.RecordError
	if !errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("checkpoint %s: object record %s cannot be read (%v): the checkpoint is damaged there, and every run stops at it; "+
		"to set it and any other unreadable record aside and go on, run: %s", path, quoteRecordID(re.ID), re.Err, skipCorruptCommand(g.args))
}

// skipCorruptCommand is the command line the user ran, with --skip-corrupt (and for copy
// --resume) after the command.
func skipCorruptCommand(args []string) string {
	out := []string{"s3sync"}
	has := func(flag string) bool {
		for _, a := range args {
			if a == flag || strings.HasPrefix(a, flag+"=") {
				return true
			}
		}
		return false
	}
	added := false
	for i, a := range args {
		if i == 0 {
			continue
		}
		out = append(out, shellQuote(a))
		if !added && (a == "copy" || a == "retry-failed") {
			added = true
			if a == "copy" && !has("--resume") {
				out = append(out, "--resume")
			}
			if !has("--skip-corrupt") {
				out = append(out, "--skip-corrupt")
			}
		}
	}
	return strings.Join(out, " ")
}

// quoteRecordID quotes a record key for output, shortened when a damaged key is long.
func quoteRecordID(id string) string {
	if len(id) > 200 {
		return strconv.Quote(id[:200]) + fmt.Sprintf("… (%d bytes)", len(id))
	}
	return strconv.Quote(id)
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
