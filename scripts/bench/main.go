// Command bench is the driver behind `make bench`: it starts its own S3 server (and, for the
// WAN profile, a latency proxy in front of it), generates the data sets with scripts/gendata,
// runs s3sync, the raw GET→PUT loop (scripts/bench/rawcopy) and rclone side by side in
// alternating rounds, and writes the tables of BENCHMARKS.md (median and range of every
// figure) to -out, with the raw results beside it as JSON.
//
// Scenarios (-only picks some): mix, small, wan, large, plan, resume, profile.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// scale is what BENCH_SCALE selects.
type scale struct {
	name                      string
	rounds                    int
	mixRecords, smallRecords  int
	wanRecords, largeRecords  int
	planRecords, resumeObject int
	wanSweep                  []int
}

var scales = map[string]scale{
	// smoke: the harness end to end in a few minutes; its figures are noisy.
	"quick": {name: "quick", rounds: 1, mixRecords: 600, smallRecords: 1500, wanRecords: 500, largeRecords: 64,
		planRecords: 100_000, resumeObject: 1_000_000, wanSweep: []int{16, 64, 256}},
	// the figures in BENCHMARKS.md.
	"full": {name: "full", rounds: 3, mixRecords: 3000, smallRecords: 8000, wanRecords: 2000, largeRecords: 64,
		planRecords: 1_000_000, resumeObject: 10_000_000, wanSweep: []int{16, 32, 64, 128, 256}},
}

type config struct {
	repo, work, bin string
	pgURL           string
	s3              *s3server
	proxy           *latencyProxy
	scale           scale
	conc            int
	keep            bool
	hasServerSide   bool // s3sync copy has --server-side
	results         []*result
	notes           []string
	out             string
}

func main() {
	var c config
	scaleName := flag.String("scale", envOr("BENCH_SCALE", "quick"), "quick or full (env BENCH_SCALE)")
	rounds := flag.Int("rounds", 0, "rounds per scenario, 0 = the scale's (env BENCH_ROUNDS)")
	only := flag.String("only", envOr("BENCH_ONLY", "mix,small,wan,large,plan,resume,profile"), "scenarios to run (env BENCH_ONLY)")
	port := flag.Int("port", 7171, "port of the benchmark's own S3 server")
	proxyPort := flag.Int("proxy-port", 7172, "port of the latency proxy")
	flag.StringVar(&c.work, "work", envOr("BENCH_WORK", ""), "work directory (data, checkpoints, S3 root); default a new temporary one")
	flag.StringVar(&c.out, "out", "artifacts/bench/results.md", "markdown results")
	flag.IntVar(&c.conc, "concurrency", 32, "workers for the local and WAN comparisons")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	proxyOnly := flag.String("proxy-only", "", "only run the latency proxy in front of this endpoint until interrupted")
	breakdownOf := flag.String("breakdown", "", "only print the CPU breakdown of BINARY,PROFILE")
	flag.Parse()
	if bin, prof, ok := strings.Cut(*breakdownOf, ","); ok {
		fmt.Print(breakdown(bin, prof))
		return
	}
	if *proxyOnly != "" {
		p := &latencyProxy{addr: fmt.Sprintf("127.0.0.1:%d", *proxyPort), delay: 20 * time.Millisecond}
		must(p.start(*proxyOnly))
		logf("latency proxy on %s → %s", p.addr, *proxyOnly)
		select {}
	}
	var ok bool
	if c.scale, ok = scales[*scaleName]; !ok {
		fatalf("-scale %q: want quick or full", *scaleName)
	}
	if *rounds == 0 {
		fmt.Sscan(envOr("BENCH_ROUNDS", "0"), rounds)
	}
	if *rounds > 0 {
		c.scale.rounds = *rounds
	}
	c.repo, _ = os.Getwd()
	c.pgURL = os.Getenv("S3SYNC_TEST_PG_URL")
	if c.pgURL == "" {
		fatalf("S3SYNC_TEST_PG_URL is not set (source .tools/test-env.sh)")
	}
	if c.work == "" {
		w, err := os.MkdirTemp("", "s3sync-bench-")
		must(err)
		c.work = w
	} else {
		c.keep = true // a directory of the caller's: never removed
	}
	c.bin = filepath.Join(c.work, "bin")
	must(os.MkdirAll(c.bin, 0o755))
	must(os.MkdirAll(filepath.Dir(c.out), 0o755))
	start := time.Now()
	logf("work directory %s, scale %s, %d round(s)", c.work, c.scale.name, c.scale.rounds)
	c.build()
	help, _ := exec.Command(filepath.Join(c.bin, "s3sync"), "copy", "--help").CombinedOutput()
	c.hasServerSide = strings.Contains(string(help), "--server-side")
	if c.hasServerSide {
		c.notes = append(c.notes, "s3sync streams every body (`--server-side never`) in all comparisons; the s3sync-serverside rows copy inside the server (`--server-side always`, CopyObject), possible only when both buckets share a provider and credentials.")
	}

	c.s3 = &s3server{bin: filepath.Join(c.repo, ".tools/versitygw"), root: filepath.Join(c.work, "s3"),
		addr: fmt.Sprintf("127.0.0.1:%d", *port), access: "bench-access", secret: "bench-secret"}
	must(c.s3.start())
	defer c.s3.stop()
	c.proxy = &latencyProxy{addr: fmt.Sprintf("127.0.0.1:%d", *proxyPort), delay: 20 * time.Millisecond}
	must(c.proxy.start(c.s3.endpoint()))
	defer c.proxy.stop()

	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	var sections []string
	run := func(name string, f func() string) {
		if want[name] {
			t := time.Now()
			sections = append(sections, f())
			logf("scenario %s took %s", name, time.Since(t).Round(time.Second))
		}
	}
	run("mix", c.mix)
	run("small", c.small)
	run("wan", c.wan)
	run("large", c.large)
	run("plan", c.plan)
	run("resume", c.resume)
	run("profile", c.profiles)

	header := c.header(time.Since(start))
	must(os.MkdirAll(filepath.Dir(c.out), 0o755))
	must(os.WriteFile(c.out, []byte(header+strings.Join(sections, "\n")), 0o644))
	raw, _ := json.MarshalIndent(c.results, "", "  ")
	must(os.WriteFile(strings.TrimSuffix(c.out, ".md")+".json", raw, 0o644))
	logf("done in %s: %s", time.Since(start).Round(time.Second), c.out)
	if !c.keep {
		c.s3.stop()
		os.RemoveAll(c.work)
	}
}

// build compiles s3sync and the helpers into the work directory.
func (c *config) build() {
	for name, pkg := range map[string]string{"s3sync": "./cmd/s3sync", "rawcopy": "./scripts/bench/rawcopy",
		"gendata": "./scripts/gendata", "ckpt": "./scripts/bench/ckpt"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(c.bin, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fatalf("go build %s: %v", pkg, err)
		}
	}
}

// header describes the machine, versions and conditions of this run.
func (c *config) header(took time.Duration) string {
	var b strings.Builder
	sh := func(cmd string) string {
		out, _ := exec.Command("bash", "-c", cmd).Output()
		return strings.TrimSpace(string(out))
	}
	fmt.Fprintf(&b, "Run of %s, scale %s (%d round(s) per scenario, tools in rotating order), took %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), c.scale.name, c.scale.rounds, took.Round(time.Second))
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| machine | %s, %d cores, %s RAM |\n", sh(`grep -m1 'model name' /proc/cpuinfo | cut -d: -f2`), runtime.NumCPU(), sh(`free -g | awk '/Mem/{print $2" GiB"}'`))
	fmt.Fprintf(&b, "| kernel | %s |\n", sh("uname -r"))
	fmt.Fprintf(&b, "| Go | %s |\n", runtime.Version())
	fmt.Fprintf(&b, "| s3sync | %s |\n", sh("git log -1 --format='%h %cd' --date=short")+dirty())
	fmt.Fprintf(&b, "| S3 server | versitygw %s, posix backend, own instance with --keep-alive |\n", sh(c.s3.bin+" --version | head -1 | awk '{print $NF}'"))
	fmt.Fprintf(&b, "| rclone | %s |\n", sh("rclone version 2>/dev/null | head -1"))
	fmt.Fprintf(&b, "| PostgreSQL | %s |\n", sh("psql --version"))
	fmt.Fprintf(&b, "| load average before / after | %s / %s |\n\n", loadBefore, sh("cut -d' ' -f1-3 /proc/loadavg"))
	for _, n := range c.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n")
	return b.String()
}

var loadBefore = func() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}()

func dirty() string {
	out, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		return " + uncommitted changes"
	}
	return ""
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	logf("error: "+format, args...)
	os.Exit(1)
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}
