package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
)

type copyOptions struct {
	resume      bool
	concurrency int
	only        string
	limit       int64
	dryRun      bool
	statusAddr  string
	cpuProfile  string // write a CPU profile here (pprof), "" = none
	memProfile  string // write a heap profile here at the end, "" = none
	shard       string // --shard I/N, "" = none
	serverSide  string // --server-side auto|always|never
	maxRPS      float64
	bwlimit     string // --bwlimit, e.g. 50M; "" = none
	skipCorrupt bool   // --skip-corrupt: set unreadable object records aside first
}

func newCopyCommand(g *globals) *cli.Command {
	var o copyOptions
	return &cli.Command{
		Name:  "copy",
		Usage: "copy the pending objects of the checkpoint to the destination bucket",
		Description: "Each object is streamed from the first of its candidate source keys that exists to the same\n" +
			"key at the destination, and marked done, missing or failed. Ctrl-C stops cleanly (exit 130);\n" +
			"`s3sync copy --resume` continues. Exit 3 when failed objects are left (see `s3sync report`).",
		Flags: copyFlags(&o, true),
		Action: func(c *cli.Context) error {
			return runCopy(c, g, o, nil)
		},
	}
}

func copyFlags(o *copyOptions, full bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Usage: "copy `N` objects at a time", DefaultText: "[sync] concurrency, else 16", Destination: &o.concurrency},
		&cli.StringFlag{Name: "status-addr", Usage: "serve a live status page, JSON and metrics on `ADDR` (host:port; a port alone means 127.0.0.1)", DefaultText: "[sync] status_addr, else none", Destination: &o.statusAddr},
		shardFlag(&o.shard),
		&cli.StringFlag{Name: "server-side", Value: "auto", Usage: "`MODE` auto, always or never: copy inside the provider (CopyObject) when source and destination share an endpoint; auto probes once and streams when refused", Destination: &o.serverSide},
		&cli.Float64Flag{Name: "max-rps", Usage: "at most `N` requests per second to each of source and destination", DefaultText: "no limit", Destination: &o.maxRPS},
		&cli.StringFlag{Name: "bwlimit", Usage: "at most `RATE` bytes per second streamed (e.g. 50M, 800k)", DefaultText: "no limit", Destination: &o.bwlimit},
		&cli.BoolFlag{Name: "skip-corrupt", Usage: "first check every record of the checkpoint and set unreadable ones aside (listed; `s3sync plan` plans them again), then copy the rest", Destination: &o.skipCorrupt},
	}
	if !full {
		return flags
	}
	return append(flags,
		&cli.BoolFlag{Name: "resume", Usage: "continue a checkpoint that already holds progress", Destination: &o.resume},
		&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to copy (default all)", Destination: &o.only},
		&cli.Int64Flag{Name: "limit", Usage: "copy at most `N` objects in this run", DefaultText: "no limit", Destination: &o.limit},
		&cli.BoolFlag{Name: "dry-run", Usage: "list what would be copied; touch neither S3 nor the checkpoint", Destination: &o.dryRun},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile (go tool pprof) to `FILE`", Destination: &o.cpuProfile},
		&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile (go tool pprof) to `FILE` at the end", Destination: &o.memProfile},
	)
}

// runCopy is copy, and the copy half of retry-failed (requeue then set).
func runCopy(c *cli.Context, g *globals, o copyOptions, requeue []checkpoint.Status) (err error) {
	var path string
	defer func() { err = explainCorrupt(g, path, err) }()
	kindNames, err := kindNamesOf(o.only)
	if err != nil {
		return err
	}
	if o.concurrency < 0 || o.limit < 0 {
		return usageErrorf("", "--concurrency and --limit must not be negative")
	}
	lim, err := parseLimitFlags(o)
	if err != nil {
		return err
	}
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	if o.skipCorrupt && o.dryRun {
		return usageErrorf("s3sync copy --resume --skip-corrupt", "--skip-corrupt changes the checkpoint; --dry-run changes nothing")
	}
	path = shardCheckpointPath(cfg, g.checkpoint, lim.shard)
	if err := checkCheckpointPath(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	db, err := openCheckpoint(path, o.dryRun)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkLocations(db, cfg, false); err != nil {
		return err
	}
	if err := checkShard(db, lim.shard, false); err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(g, db, kindNames, o.limit)
	}
	if o.skipCorrupt {
		if err := setAsideCorrupt(g, db); err != nil { // corrupt.go
			return err
		}
	}
	if requeue == nil && !o.resume {
		if err := refuseOverProgress(g, db); err != nil {
			return err
		}
	}

	conc := cfg.Concurrency
	if o.concurrency > 0 {
		conc = o.concurrency
	}
	mon := engine.NewMonitor()
	srv, err := g.startStatusServer(o.statusAddr, cfg, mon, db,
		statusRun{command: c.Command.Name, concurrency: conc, kinds: kindNames, limit: o.limit, checkpoint: path})
	if err != nil {
		return err
	}
	srcCfg, dstCfg := *cfg.Source, *cfg.Destination
	// An idle connection per worker: with fewer, the connections above the pool's size are
	// closed after each request and opened again for the next, a round trip each over a WAN.
	srcCfg.MaxConns = max(srcCfg.MaxConns, conc, storage.DefaultMaxConns)
	dstCfg.MaxConns = max(dstCfg.MaxConns, conc, storage.DefaultMaxConns)
	statusAddr := ""
	if srv != nil {
		defer srv.Close()
		srcCfg.Observer, dstCfg.Observer = srv, srv
		statusAddr = srv.Addr()
	}
	throttle := lim.apply(&srcCfg, &dstCfg, conc, g.log)
	src, err := storage.New(srcCfg)
	if err != nil {
		return &configError{"s3.source", "", err.Error()}
	}
	dst, err := storage.New(dstCfg)
	if err != nil {
		return &configError{"s3.destination", "", err.Error()}
	}
	for _, cl := range []*storage.Client{src, dst} {
		if err := cl.CheckBucket(c.Context); err != nil {
			return err
		}
	}

	// A killed copy may have left multipart uploads at the destination, parts stored and
	// billed but invisible: the checkpoint recorded each one before its first part.
	if n, err := engine.AbortRecordedUploads(c.Context, db, dst); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(g.stdout, "aborted %d multipart upload(s) that a stopped copy left unfinished at the destination\n", n)
	}
	if requeue != nil {
		n, err := db.Requeue(requeue, kindNames)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		fmt.Fprintf(g.stdout, "requeued %d object(s)\n", n)
	}
	server, mode, err := engine.ChooseServerSide(c.Context, o.serverSide, db, kindNames, src, dst)
	if err != nil {
		return err
	}
	g.log.Info().Str("mode", mode).Msg("copy mode")
	runs, _ := db.GetMeta(metaCopyRuns)
	n, _ := strconv.Atoi(runs)
	if err := db.SetMeta(metaCopyRuns, strconv.Itoa(n+1)); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}

	tuneGC(conc)
	stopProfiles, err := startProfiles(o.cpuProfile, o.memProfile)
	if err != nil {
		return err
	}
	defer stopProfiles()
	g.writeRunningAt(path, c.Command.Name, statusAddr)
	defer g.writeStopped(path, db)
	g.log.Info().Str("from", src.String()).Str("to", dst.String()).Int("concurrency", conc).Msg("copy started")
	bars := g.startCopyBars(mon)
	sum, err := engine.Copy(c.Context, db, engine.LimitBandwidth(src, lim.bwlimit), dst, engine.CopyOptions{
		ServerSide:    server,
		Throttle:      throttle,
		Concurrency:   conc,
		Kinds:         kindNames,
		Limit:         o.limit,
		Retries:       cfg.Retries,
		NoContentMD5:  !cfg.ContentMD5,
		PrivateACL:    cfg.privateACL(),
		Abort:         g.abort,
		StatusFile:    engine.StatusPath(path),
		StatusAddr:    statusAddr,
		Command:       c.Command.Name,
		Monitor:       mon,
		QuietProgress: bars != nil,
		Log:           g.log,
	})
	bars.stop()
	printCopySummary(g, sum)
	printCopyMode(g, mode, throttle)
	if err != nil {
		return err
	}
	if sum.Interrupted {
		return errInterrupted
	}
	counts, err := db.Counts()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := engine.WriteTable(g.stdout, counts, kindNames, nil); err != nil {
		return err
	}
	var failed int64
	for kind, byStatus := range counts {
		if len(kindNames) == 0 || contains(kindNames, kind) {
			failed += byStatus[checkpoint.Failed].Objects
		}
	}
	if failed > 0 {
		return &failedObjectsError{n: failed}
	}
	return nil
}

// refuseOverProgress stops a plain `copy` on a checkpoint that an earlier copy worked on.
func refuseOverProgress(g *globals, db *checkpoint.DB) error {
	runs, err := db.GetMeta(metaCopyRuns)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	counts, err := db.Counts()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var by = map[checkpoint.Status]int64{}
	for _, byStatus := range counts {
		for s, c := range byStatus {
			by[s] += c.Objects
		}
	}
	if runs == "" && by[checkpoint.Done]+by[checkpoint.Failed]+by[checkpoint.Missing] == 0 {
		return nil
	}
	return usageErrorf(resumeCommand(g.args),
		"checkpoint %s already holds progress from an earlier copy (%d done, %d failed, %d missing, %d pending); add --resume to continue it",
		db.Path(), by[checkpoint.Done], by[checkpoint.Failed], by[checkpoint.Missing], by[checkpoint.Pending])
}

// resumeCommand is the command line the user ran, with --resume after `copy`.
func resumeCommand(args []string) string {
	out := []string{"s3sync"}
	for i, a := range args {
		if i == 0 {
			continue
		}
		out = append(out, shellQuote(a))
		if a == "copy" {
			out = append(out, "--resume")
		}
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ',' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printCopySummary(g *globals, s engine.CopySummary) {
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Done) / secs
	}
	fmt.Fprintf(g.stdout, "copied %d object(s), %s in %s (%.1f obj/s); missing %d, failed %d, retries %d, still pending %d\n",
		s.Done, engine.FormatBytes(s.Bytes), s.Elapsed.Round(time.Millisecond), rate, s.Missing, s.Failed, s.Retries, s.Left)
}

// dryRun lists the pending objects a copy would take, without S3 or checkpoint writes.
func dryRun(g *globals, db *checkpoint.DB, kinds []string, limit int64) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRECORD\tATTACHMENT\tSTYLE\tKEY\tSIZE")
	var n, bytes int64
	after := ""
	for limit == 0 || n < limit {
		objs, err := db.NextPending(after, kinds, 512)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if len(objs) == 0 {
			break
		}
		for _, o := range objs {
			if limit > 0 && n >= limit {
				break
			}
			size := "?"
			if o.Size > 0 {
				size = engine.FormatBytes(o.Size)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", o.Kind, o.RecordID, o.Attachment, o.Style, o.DestKey(), size)
			n++
			bytes += o.Size
			after = o.ID()
		}
	}
	tw.Flush()
	fmt.Fprintf(g.stdout, "dry run: would copy %d object(s), at least %s (sizes the database knows)\n", n, engine.FormatBytes(bytes))
	return nil
}
