package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
	"github.com/s3sync/s3sync/internal/human"
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
	follow      followOptions
}

// followOptions are copy's --follow flags.
type followOptions struct {
	on             bool
	interval       time.Duration
	until          time.Duration
	rescanEvery    time.Duration
	reconcileEvery time.Duration
}

func followFlags(o *followOptions) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "follow", Usage: "after the pending objects, keep copying what Mastodon adds or replaces, pass after pass, until Ctrl-C or --until: the zero-downtime cutover (README, Cutover)", Destination: &o.on},
		&cli.DurationFlag{Name: "interval", Value: engine.DefaultFollowInterval, Usage: "with --follow: wait `D` between passes", Destination: &o.interval},
		&cli.DurationFlag{Name: "until", Usage: "with --follow: stop after `D` (e.g. 2h), with a final pass that also looks for replaced files", DefaultText: "until Ctrl-C", Destination: &o.until},
		&cli.DurationFlag{Name: "rescan-every", Value: engine.DefaultRescanEvery, Usage: "with --follow: look for replaced files (a scan of each whole table) every `D`; the other passes read new records only, through the primary key", Destination: &o.rescanEvery},
		&cli.DurationFlag{Name: "reconcile-every", Usage: "with --follow: a full plan every `D` that marks the objects of deleted records stale", DefaultText: "never", Destination: &o.reconcileEvery},
	}
}

// check refuses --follow flags that make no sense, as usage errors.
func (f followOptions) check(c *cli.Context, o copyOptions) error {
	if !f.on {
		for _, name := range []string{"interval", "until", "rescan-every", "reconcile-every"} {
			if c.IsSet(name) {
				return usageErrorf("s3sync copy --resume --follow --"+name+" …", "--%s goes with --follow", name)
			}
		}
		return nil
	}
	switch {
	case o.dryRun:
		return usageErrorf("s3sync copy --dry-run", "--follow copies; --dry-run changes nothing")
	case o.limit > 0:
		return usageErrorf("s3sync copy --resume --follow", "--follow copies everything it finds; --limit does not go with it")
	case f.interval < 100*time.Millisecond || f.interval > 24*time.Hour:
		return usageErrorf("--interval 30s", "--interval %s is not a duration from 100ms to 24h", f.interval)
	case f.until < 0:
		return usageErrorf("--until 2h", "--until must not be negative")
	case f.rescanEvery < time.Second:
		return usageErrorf("--rescan-every 10m", "--rescan-every %s is below 1s", f.rescanEvery)
	case f.reconcileEvery < 0:
		return usageErrorf("--reconcile-every 6h", "--reconcile-every must not be negative")
	}
	return nil
}

func newCopyCommand(g *globals) *cli.Command {
	var o copyOptions
	return &cli.Command{
		Name:  "copy",
		Usage: "copy the pending objects of the checkpoint to the destination bucket",
		Description: "Each object is streamed from the first of its candidate source keys that exists to the same\n" +
			"key at the destination, and marked done, missing or failed. Ctrl-C stops cleanly (exit 130);\n" +
			"`s3sync copy --resume` continues. Exit 3 when failed objects are left (see `s3sync report`).\n" +
			"With --follow it then keeps the destination current while Mastodon runs, pass after pass,\n" +
			"until Ctrl-C or --until: the zero-downtime cutover (README, Cutover).\n\n" +
			"Example:\n" +
			"  s3sync copy                                   # the first copy\n" +
			"  s3sync copy --resume --concurrency 64         # after an interruption\n" +
			"  s3sync copy --resume --follow --interval 30s  # keep following until Ctrl-C",
		Flags: append(copyFlags(&o, true), followFlags(&o.follow)...),
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
		&cli.BoolFlag{Name: "skip-corrupt", Usage: "first check every record of the checkpoint and set unreadable ones aside (listed; the next plan plans them again), then copy the rest", Destination: &o.skipCorrupt},
	}
	if !full {
		return flags
	}
	return append(flags,
		&cli.BoolFlag{Name: "resume", Usage: "continue a checkpoint that already holds progress", Destination: &o.resume},
		&cli.StringFlag{Name: "only", Usage: "comma-separated `KINDS` to copy (default all)", Destination: &o.only},
		&cli.Int64Flag{Name: "limit", Usage: "copy at most `N` objects in this run", DefaultText: "no limit", Destination: &o.limit},
		&cli.BoolFlag{Name: "dry-run", Usage: "list what would be copied; touch neither S3 nor the checkpoint", Destination: &o.dryRun},
		&cli.StringFlag{Name: "cpuprofile", TakesFile: true, Usage: "write a CPU profile (go tool pprof) to `FILE`", Destination: &o.cpuProfile},
		&cli.StringFlag{Name: "memprofile", TakesFile: true, Usage: "write a heap profile (go tool pprof) to `FILE` at the end", Destination: &o.memProfile},
	)
}

// runCopy is copy, and the copy half of retry-failed (requeue then set): it opens the
// checkpoint and both buckets, prepares the run, copies, and reports.
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
	if err := o.follow.check(c, o); err != nil {
		return err
	}
	cfg, err := g.s3Config()
	if err != nil {
		return err
	}
	if o.follow.on {
		if err := cfg.requireDatabase(); err != nil {
			return err
		}
	}
	if o.skipCorrupt && o.dryRun {
		return usageErrorf("s3sync copy --resume --skip-corrupt", "--skip-corrupt changes the checkpoint; --dry-run changes nothing")
	}
	path = shardCheckpointPath(cfg, g.checkpoint, lim.shard)
	db, err := openPlannedAt(cfg, path, o.dryRun)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkShard(db, lim.shard, false); err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(g, db, kindNames, o.limit)
	}
	if o.skipCorrupt {
		if err := setAsideCorrupt(g, db); err != nil {
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
	statusAddr := ""
	var throttle *engine.Throttle
	src, dst, err := openBuckets(c.Context, cfg, conc, func(srcCfg, dstCfg *storage.Config) {
		if srv != nil {
			srcCfg.Observer, dstCfg.Observer = srv, srv
		}
		throttle = lim.apply(srcCfg, dstCfg, conc, g.log)
	})
	if srv != nil {
		defer srv.Close()
		statusAddr = srv.Addr()
	}
	if err != nil {
		return err
	}
	server, mode, err := startCopyRun(c, g, db, dst, src, o.serverSide, kindNames, requeue)
	if err != nil {
		return err
	}
	followedAt, err := startedFollowing(db, o.follow.on)
	if err != nil {
		return err
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
	copyOpts := engine.CopyOptions{
		ServerSide:     server,
		Throttle:       throttle,
		Concurrency:    conc,
		Kinds:          kindNames,
		Limit:          o.limit,
		Retries:        cfg.Retries,
		MinRate:        cfg.MinRate,
		MinTime:        cfg.MinTime,
		NoContentMD5:   !cfg.ContentMD5,
		PrivateACL:     cfg.privateACL(),
		KeepNewerSince: followedAt,
		Abort:          g.abort,
		StatusFile:     engine.StatusPath(path),
		StatusAddr:     statusAddr,
		Command:        c.Command.Name,
		Monitor:        mon,
		QuietProgress:  bars != nil,
		Log:            g.log,
	}
	var sum engine.CopySummary
	var followed engine.FollowSummary
	if o.follow.on {
		sum, followed, err = runFollow(c, g, cfg, o, lim.shard, db, engine.LimitBandwidth(src, lim.bwlimit), dst, copyOpts)
	} else {
		sum, err = engine.Copy(c.Context, db, engine.LimitBandwidth(src, lim.bwlimit), dst, copyOpts)
	}
	bars.stop()
	printCopySummary(g, sum)
	if o.follow.on {
		fmt.Fprintf(g.stdout, "followed %d pass(es) after the first copy: %d record(s) read, %d object(s) queued (new or replaced files)\n",
			followed.Passes, followed.Records, followed.Added)
	}
	printCopyMode(g, mode, throttle)
	if err != nil {
		return err
	}
	if sum.Interrupted {
		return errInterrupted
	}
	return reportCopied(g, db, kindNames)
}

// startedFollowing returns when an earlier run began to follow the checkpoint (zero when
// none did), and under --follow records that this one does. Once following has begun, Mastodon
// may write to the destination (the switch), so every later copy, --follow or not, asks the
// destination before writing and never overwrites what Mastodon wrote there; the first copy of
// a first --follow, before the switch, does not pay that request.
func startedFollowing(db *checkpoint.DB, follow bool) (time.Time, error) {
	at, err := db.FollowedAt()
	if err != nil {
		return time.Time{}, err
	}
	if follow {
		err = db.SetFollowedAt(time.Now())
	}
	return at, err
}

// runFollow is copy --follow: engine.Follow with a database connection for the passes' plans
// (filtered to shard, when --shard gives one: each shard follows its own objects), a line per
// pass, and one summary over all the passes.
func runFollow(c *cli.Context, g *globals, cfg *Config, o copyOptions, shard engine.Shard, db *checkpoint.DB, src engine.Source, dst engine.Destination, copyOpts engine.CopyOptions) (engine.CopySummary, engine.FollowSummary, error) {
	reader, closeReader, err := openCatalog(c.Context, g, cfg)
	if err != nil {
		return engine.CopySummary{}, engine.FollowSummary{}, err
	}
	defer closeReader()
	start := time.Now()
	planOpts := engine.PlanOptions{SkipRemoteCache: cfg.RemoteCache == remoteCacheSkip, Log: g.log}
	keys := engine.NewKeyLimit(destinationPrefix(cfg), g.log)
	cat := engine.ShardDeltaCatalog(keys.WrapDelta(reader), shard)
	fs, err := engine.Follow(c.Context, cat, db, src, dst, engine.FollowOptions{
		Interval: o.follow.interval, Until: o.follow.until, RescanEvery: o.follow.rescanEvery,
		ReconcileEvery: o.follow.reconcileEvery, Plan: planOpts, Copy: copyOpts,
		OnPass: func(p engine.FollowPass) { logPass(g, p) },
	})
	return engine.CopySummary{Done: fs.Done, Found: fs.Found, Failed: fs.Failed, Missing: fs.Missing, Bytes: fs.Bytes, Left: fs.Left,
		Retries: copyOpts.Monitor.Snapshot().Retries, Elapsed: time.Since(start), Interrupted: fs.Interrupted}, fs, err
}

// logPass logs what a pass of copy --follow did.
func logPass(g *globals, p engine.FollowPass) {
	what := "new records"
	switch {
	case p.N == 0:
		what = "the pending objects"
	case p.Reconcile:
		what = "full plan"
	case p.Rescan:
		what = "new records and replaced files"
	}
	ev := g.log.Info().Int("pass", p.N).Str("read", what).Int64("records", p.Records).Int64("added", p.Added).
		Int64("copied", p.Copied.Done-p.Copied.Found).Int64("found", p.Copied.Found).Int64("missing", p.Copied.Missing).
		Int64("failed", p.Copied.Failed).Int64("pending", p.State.Pending).
		Str("lag", time.Duration(p.State.LagSeconds*float64(time.Second)).Round(time.Second).String()).
		Str("took", p.Took.Round(time.Millisecond).String())
	if p.Stale > 0 {
		ev = ev.Int64("stale", p.Stale)
	}
	if p.PlanFailed {
		ev = ev.Str("database", "did not answer; read again next pass")
	}
	if p.Final {
		ev.Msg("final pass")
		return
	}
	if p.State.QuietPasses > 0 {
		ev = ev.Int("quiet_passes", p.State.QuietPasses)
	}
	if p.State.ReadyToStop {
		ev = ev.Bool("ready_to_stop", true)
	}
	ev.Time("next", p.State.NextPassAt.Local()).Msg("following")
}

// startCopyRun readies the checkpoint and the destination for a copy run: it aborts the
// multipart uploads a killed copy left, requeues what retry-failed asks for, chooses between
// server-side and streamed copy, and counts the run. It returns the server-side copier (nil
// when streaming) and the mode's name.
func startCopyRun(c *cli.Context, g *globals, db *checkpoint.DB, dst, src *storage.Client, serverSide string,
	kinds []string, requeue []checkpoint.Status) (engine.ServerSideCopier, string, error) {
	// A killed copy may have left multipart uploads at the destination, parts stored and
	// billed but invisible: the checkpoint recorded each one before its first part.
	if n, err := engine.AbortRecordedUploads(c.Context, db, dst); err != nil {
		return nil, "", err
	} else if n > 0 {
		fmt.Fprintf(g.stdout, "aborted %d multipart upload(s) that a stopped copy left unfinished at the destination\n", n)
	}
	if requeue != nil {
		n, err := db.Requeue(requeue, kinds)
		if err != nil {
			return nil, "", fmt.Errorf("checkpoint: %w", err)
		}
		fmt.Fprintf(g.stdout, "requeued %d object(s)\n", n)
	}
	server, mode, err := engine.ChooseServerSide(c.Context, serverSide, db, kinds, src, dst)
	if err != nil {
		return nil, "", err
	}
	g.log.Info().Str("mode", mode).Msg("copy mode")
	return server, mode, db.AddCopyRun()
}

// reportCopied prints the table of the kinds copied, and returns a failedObjectsError (exit
// 3) when failed objects are left among them.
func reportCopied(g *globals, db *checkpoint.DB, kinds []string) error {
	counts, err := db.Counts()
	if err != nil {
		return err
	}
	if err := engine.WriteTable(g.stdout, counts, kinds, nil); err != nil {
		return err
	}
	if err := writeFound(g.stdout, db, kinds); err != nil {
		return err
	}
	if failed := counts.Sum(checkpoint.Failed, kinds...).Objects; failed > 0 {
		return &failedObjectsError{n: failed}
	}
	return nil
}

// refuseOverProgress stops a plain `copy` on a checkpoint that an earlier copy worked on.
func refuseOverProgress(g *globals, db *checkpoint.DB) error {
	runs, err := db.CopyRuns()
	if err != nil {
		return err
	}
	counts, err := db.Counts()
	if err != nil {
		return err
	}
	by := counts.ByStatus()
	if runs == 0 && by[checkpoint.Done].Objects+by[checkpoint.Failed].Objects+by[checkpoint.Missing].Objects == 0 {
		return nil
	}
	return usageErrorf(resumeCommand(g.args),
		"checkpoint %s already holds progress from an earlier copy (%d done, %d failed, %d missing, %d pending); add --resume to continue it",
		db.Path(), by[checkpoint.Done].Objects, by[checkpoint.Failed].Objects, by[checkpoint.Missing].Objects, by[checkpoint.Pending].Objects)
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
		rate = float64(s.Done-s.Found) / secs
	}
	fmt.Fprintf(g.stdout, "copied %d object(s), %s in %s (%.1f obj/s); missing %d, failed %d, retries %d, still pending %d\n",
		s.Done-s.Found, human.Bytes(s.Bytes), s.Elapsed.Round(time.Millisecond), rate, s.Missing, s.Failed, s.Retries, s.Left)
	if s.Found > 0 {
		fmt.Fprintf(g.stdout, "found %d object(s) already at the destination (Mastodon wrote them there after the switch): done, not copied\n", s.Found)
	}
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
				size = human.Bytes(o.Size)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", o.Kind, o.RecordID, o.Attachment, o.Style, o.DestKey(), size)
			n++
			bytes += o.Size
			after = o.ID()
		}
	}
	tw.Flush()
	fmt.Fprintf(g.stdout, "dry run: would copy %d object(s), at least %s (sizes the database knows)\n", n, human.Bytes(bytes))
	return nil
}

// printCopyMode says after the summary whether the copy ran server-side or streamed, and
// whether throttling shrank the concurrency.
func printCopyMode(g *globals, mode string, t *engine.Throttle) {
	fmt.Fprintf(g.stdout, "mode: %s\n", mode)
	if lowest, cuts := t.Lowest(); cuts > 0 {
		fmt.Fprintf(g.stdout, "throttled by the provider: concurrency went down to %d (%d time(s)), ended at %d\n", lowest, cuts, t.Limit())
		st := t.Stats()
		fmt.Fprintf(g.stdout, "objects in flight: up to %d before throttling, up to %d while throttled (%d object(s) started then)\n",
			st.PeakBefore, st.PeakThrottled, st.Throttled)
	}
}

// statusRun is what the status page shows of a copy run's settings.
type statusRun struct {
	command     string
	concurrency int
	kinds       []string
	limit       int64
	checkpoint  string
}

// startStatusServer starts the copy's status server on addr (the flag, else [sync]
// status_addr); it returns nil when there is none. A non-loopback address is served, with a
// warning. The server is the storage clients' Observer for the request metrics.
func (g *globals) startStatusServer(addr string, cfg *Config, mon *engine.Monitor, db *checkpoint.DB, run statusRun) (*statusserver.Server, error) {
	if addr == "" {
		addr = cfg.StatusAddr
	}
	if addr == "" {
		return nil, nil
	}
	listen, public, err := statusserver.ListenAddr(addr)
	if err != nil {
		return nil, usageErrorf("--status-addr 127.0.0.1:5555", "--status-addr: %v", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usageErrorf("--status-addr 127.0.0.1:0 (any free port), or stop what listens there",
			"--status-addr %s: cannot listen: %v", listen, err)
	}
	srv := statusserver.New(statusserver.Options{
		Monitor: mon,
		DB:      db,
		Token:   cfg.StatusToken,
		Command: run.command,
		PID:     os.Getpid(),
		Config:  statusConfig(cfg, run, ln.Addr().String()),
	})
	srv.Serve(ln)
	if public {
		ev := g.log.Warn().Str("addr", listen)
		if cfg.StatusToken == "" {
			ev = ev.Str("hint", "set [sync] status_token or S3SYNC_STATUS_TOKEN")
		}
		ev.Msg("the status server listens beyond this machine; anyone who reaches it sees the migration's keys and errors")
	}
	g.log.Info().Str("url", "http://"+srv.Addr()+"/").Bool("token", cfg.StatusToken != "").Msg("status page")
	return srv, nil
}

// statusConfig lists the run's settings for the status page: never a key, password or token.
func statusConfig(cfg *Config, run statusRun, addr string) []statusserver.ConfigItem {
	kinds, limit, acl, access := "all", "none", cfg.Destination.ACL, "open (no token)"
	if len(run.kinds) > 0 {
		kinds = strings.Join(run.kinds, ", ")
	}
	if run.limit > 0 {
		limit = strconv.FormatInt(run.limit, 10)
	}
	if acl == "" {
		acl = "(none sent)"
	}
	if cfg.StatusToken != "" {
		access = "token required"
	}
	return []statusserver.ConfigItem{
		{Name: "source", Value: location(cfg.Source)},
		{Name: "destination", Value: location(cfg.Destination)},
		{Name: "destination ACL", Value: acl},
		{Name: "concurrency", Value: strconv.Itoa(run.concurrency)},
		{Name: "retries", Value: strconv.Itoa(cfg.Retries)},
		{Name: "kinds", Value: kinds},
		{Name: "limit", Value: limit},
		{Name: "checkpoint", Value: run.checkpoint},
		{Name: "status server", Value: addr + ", " + access},
	}
}

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

// copyGCPercent is the garbage collector's target while copying. A copy's live heap is only a
// few MB per 100 workers (buffers, connections), so Go's default of 100 collects every few MB
// allocated, and each collection scans the stacks of every worker and connection goroutine:
// about a fifth of the copy's CPU on small objects. 400 collects a quarter as often
// (BENCHMARKS.md, "Where the time goes").
const copyGCPercent = 400

// copyMemoryLimit is the soft limit that keeps copyGCPercent from letting the heap grow to five
// times a large live heap (hundreds of workers): 96 MiB, or 384 KiB per worker above 256.
func copyMemoryLimit(workers int) int64 {
	return max(96<<20, int64(workers)*384<<10)
}

// tuneGC sets copyGCPercent and copyMemoryLimit for a copy with this many workers, unless
// GOGC or GOMEMLIMIT is set in the environment: those keep the last word.
func tuneGC(workers int) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(copyGCPercent)
	debug.SetMemoryLimit(copyMemoryLimit(workers))
}

// startProfiles starts a CPU profile into cpuFile and arranges a heap profile into memFile
// ("" = none of that kind); the returned stop writes and closes them and is safe to call once.
func startProfiles(cpuFile, memFile string) (stop func(), err error) {
	var cpu *os.File
	if cpuFile != "" {
		if cpu, err = os.Create(cpuFile); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memFile != "" {
			if f, err := os.Create(memFile); err == nil {
				runtime.GC()
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}, nil
}
