package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// runReportMerge is `report --merge a.db b.db …`: the table adds up the counts of every
// checkpoint; csv and json list the rows of each in turn. The checkpoints must have been
// planned for the same buckets, and none may be in use.
func runReportMerge(g *globals, o reportOptions, paths []string, kinds []string, statuses []checkpoint.Status) error {
	if !o.merge {
		return usageErrorf("s3sync report --merge "+joinArgs(paths), "report takes checkpoints as arguments only with --merge")
	}
	if len(paths) == 0 {
		return usageErrorf("s3sync report --merge private/s3sync-*-of-4.db", "--merge needs the checkpoints to combine as arguments")
	}
	dbs := make([]*checkpoint.DB, 0, len(paths))
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	var where, whereFrom string
	shards := map[string]string{}
	for _, path := range paths {
		db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: time.Second})
		switch {
		case errors.Is(err, checkpoint.ErrLocked):
			return fmt.Errorf("checkpoint %s is in use by another s3sync process; --merge reads checkpoints that are not running (use `s3sync report --checkpoint %s` for a running one)", path, path)
		case errors.Is(err, os.ErrNotExist):
			return usageErrorf("", "checkpoint %s does not exist", path)
		case err != nil:
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
		dbs = append(dbs, db)
		src, _ := db.GetMeta(metaSource)
		dst, _ := db.GetMeta(metaDestination)
		if loc := redactLocation(src) + " → " + redactLocation(dst); where == "" {
			where, whereFrom = loc, path
		} else if loc != where {
			return usageErrorf("", "checkpoints %s and %s belong to different migrations (%s; %s)", whereFrom, path, where, loc)
		}
		if sh, _ := db.GetMeta(metaShard); sh != "" && sh != "all" {
			if other, dup := shards[sh]; dup {
				return usageErrorf("", "checkpoints %s and %s are both shard %s", other, path, sh)
			}
			shards[sh] = path
		}
	}

	w := g.stdout // reportMergeTo points it at the --output file (cmd_report.go)
	filter := checkpoint.Filter{Kinds: kinds, Statuses: statuses}
	each := func(yield func(engine.Row) error) error {
		for _, db := range dbs {
			if err := engine.EachRow(db, filter)(yield); err != nil {
				return fmt.Errorf("%s: %w", db.Path(), err)
			}
		}
		return nil
	}
	var err error
	switch o.format {
	case "csv":
		err = engine.WriteCSVRows(w, each)
	case "json":
		err = engine.WriteJSONRows(w, each)
	default:
		all := make([]map[string]map[checkpoint.Status]checkpoint.Count, 0, len(dbs))
		for _, db := range dbs {
			counts, cerr := db.Counts()
			if cerr != nil {
				return fmt.Errorf("report: %s: %w", db.Path(), cerr)
			}
			all = append(all, counts)
		}
		err = engine.WriteTable(w, engine.MergeCounts(all...), kinds, statuses)
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += shellQuote(a)
	}
	return s
}
