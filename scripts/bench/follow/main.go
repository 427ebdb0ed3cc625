// Command follow measures what `s3sync copy --follow` costs Mastodon's database, on the test
// PostgreSQL (S3SYNC_TEST_PG_URL): it creates a database with the newest release's schema
// fixture (catalog/testdata/mastodon_4.7.sql), fills media_attachments with -rows generated
// rows (10 million by default) by INSERT … SELECT FROM generate_series, runs VACUUM (ANALYZE),
// takes the full plan's Watermark, then does what a busy server does between two passes
// (-new uploads, -changed replaced files) and times, with catalog.Reader as s3sync uses it:
//
//   - Watermark: the full plan's one-time max(id), max(updated_at) (a full scan);
//   - ScanNew from that watermark: a follow pass (id > watermark, the primary key);
//   - ScanChanged from that watermark: the rescan every --rescan-every and in the final pass
//     (the replaced files by a full scan, the new records by the primary key);
//   - for comparison, ScanChanged's replaced-files statement alone, and the same statement as
//     catalog sent it before commit 33cf199 (with ORDER BY id and $2::text::timestamp; also
//     timed cold).
//
// Rounds interleave them; the figures are medians. pg_buffercache, when the server has it,
// shows what each leaves of another table's pages in shared_buffers. With -cold (the default, when the
// server's files are readable here), each is also timed once after the table's and its
// indexes' pages were dropped from the kernel's page cache. Every statement catalog sent is
// captured off the wire (the connection's Parse and Bind messages) and run again under
// EXPLAIN (ANALYZE, BUFFERS), with the same parameters. The database is dropped at the end.
//
//	scripts/bench/run.sh follow [-rows N] [-rounds N] [-cold=false] [-keep] [-out FILE]
//
// It writes markdown to -out (artifacts/bench/follow.md) and logs progress to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/s3sync/s3sync/catalog"
)

type phase struct {
	what string
	took time.Duration
}

type bench struct {
	ctx    context.Context
	db     *pgx.Conn // loads, sizes, EXPLAIN
	cfg    catalog.DBConfig
	schema string

	rows, accounts, chunk int64
	nNew, nChanged        int64
	rounds                int
	base, step            int64 // the loaded rows' times: base + i*step Unix milliseconds
	loadTimes             []phase
}

// benchError carries an error from must to main, through the deferred drop of the database.
type benchError struct{ err error }

func must(err error) {
	if err != nil {
		panic(benchError{err})
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench follow %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	b := &bench{}
	flag.Int64Var(&b.rows, "rows", 10_000_000, "media_attachments rows to load")
	flag.Int64Var(&b.accounts, "accounts", 200_000, "accounts rows (owners of the media)")
	flag.Int64Var(&b.chunk, "chunk", 1_000_000, "rows per INSERT while loading")
	flag.Int64Var(&b.nNew, "new", 200, "rows inserted between the watermark and the pass (uploads)")
	flag.Int64Var(&b.nChanged, "changed", 50, "rows whose file is replaced between the watermark and the pass")
	flag.IntVar(&b.rounds, "rounds", 5, "rounds; each times ScanNew 3 times, ScanChanged and Watermark once")
	flag.StringVar(&b.schema, "schema", "catalog/testdata/mastodon_4.7.sql", "schema fixture")
	database := flag.String("database", "s3sync_bench_follow", "database to create (dropped first if it exists, and at the end)")
	out := flag.String("out", "artifacts/bench/follow.md", "markdown results")
	cold := flag.Bool("cold", true, "also time each operation once with the table out of the page cache (needs the server's files)")
	keep := flag.Bool("keep", false, "keep the database")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b.ctx = ctx
	code := 0
	func() {
		defer func() {
			if e := recover(); e != nil {
				be, ok := e.(benchError)
				if !ok {
					panic(e)
				}
				logf("error: %v", be.err)
				code = 1
			}
		}()
		b.run(*database, *out, *cold, *keep)
	}()
	os.Exit(code)
}

func (b *bench) run(database, out string, cold, keep bool) {
	adminURL := os.Getenv("S3SYNC_TEST_PG_URL")
	if adminURL == "" {
		must(fmt.Errorf("S3SYNC_TEST_PG_URL is not set (source .tools/test-env.sh)"))
	}
	admin, err := pgconn.ParseConfig(adminURL)
	must(err)
	b.cfg = catalog.DBConfig{Host: admin.Host, Port: int(admin.Port), User: admin.User, Password: admin.Password,
		Database: database, SSLMode: "disable"}
	adminExec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{database}.Sanitize() + " WITH (FORCE)"
	must(adminExec(b.ctx, drop))
	must(adminExec(b.ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize()))
	defer func() {
		if keep {
			logf("database %s kept", database)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := adminExec(ctx, drop); err != nil {
			logf("drop database %s: %v", database, err)
			return
		}
		logf("database %s dropped", database)
	}()

	cc, err := b.cfg.ConnConfig()
	must(err)
	b.db, err = pgx.ConnectConfig(b.ctx, cc)
	must(err)
	defer b.db.Close(context.Background())

	start := time.Now()
	loadBefore := loadavg()
	logf("loading %d media_attachments rows into %s", b.rows, database)
	t := time.Now()
	b.load()
	loadTook := time.Since(t)

	r, err := catalog.Open(b.ctx, b.cfg)
	must(err)
	defer r.Close()
	sn := &sniffer{}
	scfg := b.cfg
	scfg.DialFunc = sn.dial
	rs, err := catalog.Open(b.ctx, scfg)
	must(err)
	defer rs.Close()
	ma := catalog.MediaAttachments

	// The full plan's watermark, then a pass's worth of changes, then one pass of each kind
	// on the recording connection.
	rec := sn.record()
	t = time.Now()
	wm, err := rs.Watermark(b.ctx, ma)
	must(err)
	firstWM := time.Since(t)
	wmStmts := rec()
	logf("watermark %s in %s", catalog.FormatWatermark(wm), firstWM.Round(time.Millisecond))
	b.follow()
	rec = sn.record()
	newRes := scanOn(b.ctx, rs.ScanNew, wm)
	newStmts := rec()
	rec = sn.record()
	chRes := scanOn(b.ctx, rs.ScanChanged, wm)
	chStmts := rec()
	if newRes.records != b.nNew || chRes.records != b.nNew+b.nChanged {
		must(fmt.Errorf("ScanNew read %d records (want %d), ScanChanged %d (want %d)", newRes.records, b.nNew, chRes.records, b.nNew+b.nChanged))
	}
	if len(wmStmts) != 1 || len(newStmts) != 1 || len(chStmts) != 3 {
		must(fmt.Errorf("captured %d, %d, %d statements; want 1 (Watermark), 1 (ScanNew), 3 (ScanChanged)", len(wmStmts), len(newStmts), len(chStmts)))
	}
	logf("ScanNew read %d records (%d objects), ScanChanged %d (%d objects)", newRes.records, newRes.objects, chRes.records, chRes.objects)

	ops := []*op{
		{name: "Watermark", when: "once per full plan (`plan`, the start of `copy --follow` without a watermark)",
			run: func() int64 { _, err := r.Watermark(b.ctx, ma); must(err); return 1 }, stmts: wmStmts},
		{name: "ScanNew", when: "every pass (`--interval`, 30 s)",
			run: func() int64 { return scanOn(b.ctx, r.ScanNew, wm).records }, stmts: newStmts, returned: newRes.records},
		{name: "ScanChanged", when: "every `--rescan-every` (10 min) and in the final pass",
			run: func() int64 { return scanOn(b.ctx, r.ScanChanged, wm).records }, stmts: chStmts, returned: chRes.records},
	}
	ops[0].returned = 1

	// For comparison, ScanChanged's first statement alone, as catalog sends it, and as catalog
	// sent it before 33cf199: with ORDER BY id (PostgreSQL then walked the whole primary key
	// instead of a sequential scan) and the bound cast from text ($2::text::timestamp, parsed
	// again for every row), with the same parameters (the bound was, and is, sent as text).
	changed := chStmts[0]
	extra := []*op{{name: "ScanChanged's replaced-files query alone", when: "as catalog sends it", stmts: []statement{changed},
		run: func() int64 { return b.execRaw(changed) }}}
	if before, ok := beforeFix(changed); ok {
		extra = append(extra, &op{name: "the same before 33cf199 (`ORDER BY id`, `$2::text::timestamp`)", when: "comparison, what catalog sent until 33cf199",
			stmts: []statement{before}, run: func() int64 { return b.execRaw(before) }, coldToo: true})
	} else {
		logf("ScanChanged's first statement is not the one 33cf199 left (`... > $2::timestamp`, no ORDER BY, $2 as text): no comparison with the statement before it")
	}

	// Cold: each operation once with the table's and its indexes' pages out of the page cache.
	var coldNote string
	var coldPlan []string
	if cold {
		files, err := b.relationFiles()
		if err != nil {
			coldNote = "cold runs skipped: " + err.Error()
			logf("%s", coldNote)
		} else {
			size := fileBytes(files)
			var notes []string
			for _, o := range append(slices.Clone(ops), coldExtra(extra)...) {
				before, after := b.evict(files)
				t := time.Now()
				o.run()
				o.cold = time.Since(t)
				notes = append(notes, fmt.Sprintf("%s: %s of %s in the page cache before eviction, %s after", o.name, mib(before), mib(size), mib(after)))
				logf("cold %s: %s", o.name, fmtDur(o.cold))
			}
			before, after := b.evict(files)
			coldPlan = b.explain(chStmts[0])
			notes = append(notes, fmt.Sprintf("EXPLAIN of ScanChanged's query: %s before, %s after", mib(before), mib(after)))
			coldNote = "Cold: `CHECKPOINT`, then the files of media_attachments and its indexes dropped from the kernel's page cache (posix_fadvise DONTNEED) before each run; PostgreSQL's shared_buffers keep what they hold. " + strings.Join(notes, "; ") + "."
		}
	}

	// Warm: interleaved rounds.
	logf("%d warm rounds", b.rounds)
	all := append(slices.Clone(ops), extra...)
	for i := 0; i < b.rounds; i++ {
		for _, o := range all {
			n := 1
			if o.name == "ScanNew" {
				n = 3
			}
			for j := 0; j < n; j++ {
				t := time.Now()
				o.returned = o.run()
				o.warm = append(o.warm, time.Since(t))
			}
		}
		var parts []string
		for _, o := range all {
			parts = append(parts, o.name+" "+fmtDur(o.warm[len(o.warm)-1]))
		}
		logf("round %d: %s", i+1, strings.Join(parts, ", "))
	}

	// What each leaves in shared_buffers of another table's cached pages.
	pollution := b.pollution(all)

	// EXPLAIN (ANALYZE, BUFFERS) of every captured statement, warm.
	b.exec("SET track_io_timing = on")
	plans := map[string][]string{}
	for _, o := range all {
		for _, st := range o.stmts {
			k := st.SQL + "\x00" + st.Args()
			if plans[k] == nil {
				plans[k] = b.explain(st)
			}
			o.rowsRead += planRows(plans[k])
		}
	}
	sizes := b.sizes()

	var md strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&md, format, args...) }
	w("Run of %s, took %s. `scripts/bench/run.sh follow -rows %d -rounds %d` (-new %d, -changed %d).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), time.Since(start).Round(time.Second), b.rows, b.rounds, b.nNew, b.nChanged)
	w("| | |\n|---|---|\n")
	w("| machine | %s, %d cores, %s RAM |\n", sh(`grep -m1 'model name' /proc/cpuinfo | cut -d: -f2`), runtime.NumCPU(), sh(`free -g | awk '/Mem/{print $2" GiB"}'`))
	w("| PostgreSQL | %s |\n", b.one("SELECT version()"))
	w("| settings | shared_buffers %s, work_mem %s, max_parallel_workers_per_gather %s, jit %s, effective_io_concurrency %s, random_page_cost %s |\n",
		b.one("SHOW shared_buffers"), b.one("SHOW work_mem"), b.one("SHOW max_parallel_workers_per_gather"), b.one("SHOW jit"),
		b.one("SHOW effective_io_concurrency"), b.one("SHOW random_page_cost"))
	w("| schema | %s (media_attachments, accounts, their indexes) |\n", filepath.Base(b.schema))
	w("| media_attachments | %s rows; pg_total_relation_size %s (table %s, indexes %s) |\n", thousands(sizes.rows), mib(sizes.total), mib(sizes.heap), mib(sizes.indexes))
	w("| accounts | %s rows |\n", thousands(b.accounts))
	w("| s3sync | %s |\n", sh("git log -1 --format='%h %cd' --date=short")+dirty())
	w("| load average before / after | %s / %s |\n\n", loadBefore, loadavg())

	w("Loading took %s:\n\n| step | time |\n|---|---|\n", loadTook.Round(time.Second))
	for _, p := range b.loadTimes {
		w("| %s | %s |\n", p.what, p.took.Round(100*time.Millisecond))
	}
	w("\nWatermark right after the load: %s (%s).\n\n", fmtDur(firstWM), catalog.FormatWatermark(wm))

	w("| operation | when it runs | rows read (EXPLAIN) | records returned | median (min–max), warm | cold, one run |\n|---|---|---|---|---|---|\n")
	for _, o := range all {
		lo, hi := slices.Min(o.warm), slices.Max(o.warm)
		c := "–"
		if o.cold > 0 {
			c = fmtDur(o.cold)
		}
		w("| %s | %s | %s | %d | **%s** (%s–%s) | %s |\n", o.name, o.when, thousands(o.rowsRead), o.returned, fmtDur(median(o.warm)), fmtDur(lo), fmtDur(hi), c)
	}
	w("\nWarm: %d runs of ScanNew, %d of each other, interleaved. %s\n\n", len(ops[1].warm), len(ops[2].warm), coldNote)
	if pollution != "" {
		w("%s\n\n", pollution)
	}

	for _, o := range all {
		for i, st := range o.stmts {
			w("#### %s, statement %d of %d\n\n```sql\n%s\n-- %s\n```\n\n```\n%s\n```\n\n", o.name, i+1, len(o.stmts), st.SQL, orNone(st.Args()),
				strings.Join(plans[st.SQL+"\x00"+st.Args()], "\n"))
		}
	}
	if coldPlan != nil {
		w("#### ScanChanged, statement 1, cold\n\n```\n%s\n```\n", strings.Join(coldPlan, "\n"))
	}
	must(os.MkdirAll(filepath.Dir(out), 0o755))
	must(os.WriteFile(out, []byte(md.String()), 0o644))
	logf("done in %s: %s", time.Since(start).Round(time.Second), out)
}

// op is one timed operation.
type op struct {
	name, when string
	run        func() int64
	stmts      []statement
	returned   int64
	rowsRead   int64
	warm       []time.Duration
	cold       time.Duration
	coldToo    bool // a comparison also timed cold
}

// coldExtra returns the comparisons that are also timed cold.
func coldExtra(extra []*op) []*op {
	var out []*op
	for _, o := range extra {
		if o.coldToo {
			out = append(out, o)
		}
	}
	return out
}

// beforeFix returns ScanChanged's replaced-files statement st as catalog sent it before commit
// 33cf199 (`> $2::text::timestamp ... ORDER BY id`), with the same parameters; false if st is
// not the statement 33cf199 left, or does not send the bound as text.
func beforeFix(st statement) (statement, bool) {
	const now, then = " > $2::timestamp", " > $2::text::timestamp"
	if strings.Count(st.SQL, now) != 1 || strings.HasSuffix(st.SQL, " ORDER BY id") || len(st.Values) != 2 || st.format(1) != 0 {
		return statement{}, false
	}
	old := st
	old.SQL = strings.Replace(st.SQL, now, then, 1) + " ORDER BY id"
	if len(st.OIDs) > 1 && st.OIDs[1] != 0 {
		// Declared timestamp by the new statement; the old one's $2 was text.
		old.OIDs = slices.Clone(st.OIDs)
		old.OIDs[1] = 25
	}
	return old, true
}

type scanResult struct {
	records, objects int64
	wm               catalog.Watermark
}

type scanFunc func(context.Context, catalog.Kind, catalog.Watermark, int, func(catalog.Page) error) (catalog.Watermark, error)

// scanOn runs a ScanNew or ScanChanged of media_attachments from since, with the default page
// size, as engine.PlanChanged does, and counts what it read.
func scanOn(ctx context.Context, f scanFunc, since catalog.Watermark) scanResult {
	var res scanResult
	wm, err := f(ctx, catalog.MediaAttachments, since, 0, func(p catalog.Page) error {
		res.records += int64(p.Records)
		res.objects += int64(len(p.Objects))
		return nil
	})
	must(err)
	res.wm = wm
	return res
}

// execRaw runs st as catalog sent it and returns the rows it returned.
func (b *bench) execRaw(st statement) int64 {
	rr := b.db.PgConn().ExecParams(b.ctx, st.SQL, st.Values, st.OIDs, st.Formats, nil)
	var n int64
	for rr.NextRow() {
		n++
	}
	_, err := rr.Close()
	must(err)
	return n
}

// pollution measures, for each op, how many pages of another table that was just read (a
// stand-in for the pages Mastodon keeps hot) stay in shared_buffers after it: a sequential scan
// of a table larger than a quarter of shared_buffers reads through a small ring of buffers,
// an index scan through all of them. Needs pg_buffercache (contrib); "" without it.
func (b *bench) pollution(ops []*op) string {
	if _, err := b.db.Exec(b.ctx, "CREATE EXTENSION IF NOT EXISTS pg_buffercache"); err != nil {
		logf("pg_buffercache: %v; shared_buffers not measured", err)
		return ""
	}
	b.exec("CREATE TABLE IF NOT EXISTS bench_hot_pages AS SELECT i, repeat('x', 200) AS filler FROM generate_series(1, 80000) AS i")
	count := func() int64 {
		var n int64
		must(b.db.QueryRow(b.ctx, `SELECT count(*) FROM pg_buffercache
			WHERE relfilenode = pg_relation_filenode('bench_hot_pages')
			  AND reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n))
		return n
	}
	var pages, size int64
	must(b.db.QueryRow(b.ctx, "SELECT pg_relation_size('bench_hot_pages'), pg_relation_size('bench_hot_pages') / current_setting('block_size')::bigint").Scan(&size, &pages))
	var parts []string
	for _, o := range ops {
		b.exec("SELECT count(*) FROM bench_hot_pages")
		b.exec("SELECT count(*) FROM bench_hot_pages")
		before := count()
		o.run()
		after := count()
		parts = append(parts, fmt.Sprintf("%s %d → %d", o.name, before, after))
	}
	return fmt.Sprintf("shared_buffers: a table of %d pages (%s) read twice just before, then pages of it still cached after the operation: %s.",
		pages, mib(size), strings.Join(parts, "; "))
}

// explain runs st under EXPLAIN (ANALYZE, BUFFERS) with the parameters catalog bound, as
// catalog sent them (types, formats and bytes), and returns the plan's lines.
func (b *bench) explain(st statement) []string {
	rr := b.db.PgConn().ExecParams(b.ctx, "EXPLAIN (ANALYZE, BUFFERS) "+st.SQL, st.Values, st.OIDs, st.Formats, nil)
	var lines []string
	for rr.NextRow() {
		lines = append(lines, string(rr.Values()[0]))
	}
	_, err := rr.Close()
	must(err)
	return lines
}

var (
	actualRe  = regexp.MustCompile(`\(actual time=[0-9.]+\.\.[0-9.]+ rows=(\d+) loops=(\d+)\)`)
	removedRe = regexp.MustCompile(`Rows Removed by (?:Filter|Index Recheck): (\d+)`)
)

// planRows returns the rows the plan read from media_attachments: every scan node on it
// (rows returned plus rows removed by its filter, times its loops; a parallel node's figures
// are per process).
func planRows(lines []string) int64 {
	var total, loops int64
	onTable := false
	for _, l := range lines {
		if m := actualRe.FindStringSubmatch(l); m != nil {
			onTable = strings.Contains(l, " on media_attachments")
			rows, _ := strconv.ParseInt(m[1], 10, 64)
			loops, _ = strconv.ParseInt(m[2], 10, 64)
			if onTable {
				total += rows * loops
			}
			continue
		}
		if m := removedRe.FindStringSubmatch(l); m != nil && onTable {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			total += n * loops
		}
	}
	return total
}

type sizes struct{ rows, total, heap, indexes int64 }

func (b *bench) sizes() sizes {
	var s sizes
	must(b.db.QueryRow(b.ctx, `SELECT (SELECT count(*) FROM media_attachments), pg_total_relation_size('media_attachments'),
		pg_relation_size('media_attachments'), pg_indexes_size('media_attachments')`).Scan(&s.rows, &s.total, &s.heap, &s.indexes))
	return s
}

func (b *bench) one(sql string) string {
	var s string
	must(b.db.QueryRow(b.ctx, sql).Scan(&s))
	return s
}

func median(v []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no parameters"
	}
	return s
}

func sh(cmd string) string {
	out, _ := exec.Command("bash", "-c", cmd).Output()
	return strings.TrimSpace(string(out))
}

func dirty() string {
	if sh("git status --porcelain --untracked-files=no") != "" {
		return " + uncommitted changes (of other work in progress)"
	}
	return ""
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
