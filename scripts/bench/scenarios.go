package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func (c *config) peers() []tool {
	return []tool{{"raw", c.conc}, {"s3sync", c.conc}, {"rclone", c.conc}, {"rclone-nocheck", c.conc}}
}

var descPeers = "raw = scripts/bench/rawcopy (GET → streamed PUT, aws-sdk-go-v2); rclone = `rclone copy src: dst: --files-from keys --transfers N --checkers N`; " +
	"rclone-nocheck adds `--no-check-dest --no-traverse`; s3sync = `s3sync copy --concurrency N` on a fresh copy of the planned checkpoint."

// localPeers are the peers plus, when s3sync has it, its server-side copy.
func (c *config) localPeers() []tool {
	if !c.hasServerSide {
		return c.peers()
	}
	return append(c.peers(), tool{"s3sync-serverside", c.conc})
}

func (c *config) mix() string {
	d := c.dataset("mix", "mastodon", c.scale.mixRecords)
	rs := c.rounds("mix", d, c.localPeers(), false)
	return section(fmt.Sprintf("Mastodon mix, local (loopback), %d workers", c.conc), d, descPeers, rs) +
		ratios(rs, "s3sync", c.conc, []string{"raw", "rclone", "rclone-nocheck"}) +
		ratios(rs, "raw", c.conc, []string{"rclone", "rclone-nocheck"})
}

func (c *config) small() string {
	d := c.dataset("small", "small", c.scale.smallRecords)
	rs := c.rounds("small", d, c.localPeers(), false)
	return section(fmt.Sprintf("Small objects (all < 64 KB), local, %d workers", c.conc), d, descPeers, rs) +
		ratios(rs, "s3sync", c.conc, []string{"raw", "rclone", "rclone-nocheck"}) +
		ratios(rs, "raw", c.conc, []string{"rclone", "rclone-nocheck"})
}

func (c *config) wan() string {
	d := c.dataset("wan", "small", c.scale.wanRecords)
	tools := c.peers()
	for _, n := range c.scale.wanSweep {
		if n != c.conc {
			tools = append(tools, tool{"s3sync", n})
		}
	}
	tools = append(tools, tool{"raw", 256}, tool{"rclone-nocheck", 256})
	rs := c.rounds("wan", d, tools, true)
	desc := fmt.Sprintf("Every request through a proxy that adds %s before forwarding it, and %s to each new connection. ", c.proxy.delay, c.proxy.delay) + descPeers
	return section("WAN profile (+20 ms per request), small-objects data set", d, desc, rs) +
		ratios(rs, "s3sync", c.conc, []string{"raw", "rclone", "rclone-nocheck"}) +
		ratios(rs, "raw", c.conc, []string{"rclone", "rclone-nocheck"}) +
		ratios(rs, "s3sync", 256, []string{"raw", "rclone-nocheck"}) + sweep(rs, "s3sync")
}

func (c *config) large() string {
	d := c.dataset("large", "large", c.scale.largeRecords, "--large-mib", "100", "--upload-workers", "4")
	rs := c.rounds("large", d, []tool{{"s3sync", 64}, {"raw", 64}}, false)
	// Free the disk: these are the largest buckets.
	must(c.s3.wipe(d.src))
	must(c.s3.wipe(d.dst))
	return section("Large objects: 100 MiB videos, 64 workers (peak RSS)", d, descPeers, rs)
}

// plan times `s3sync plan` into a fresh checkpoint, the database read alone (ckpt read), and a
// re-plan over a checkpoint that knows every object.
func (c *config) plan() string {
	ini := filepath.Join(c.work, "plan.ini")
	ckpt := filepath.Join(c.work, "plan-run.db")
	args := []string{"--profile", "mastodon", "--media-only", "--bulk", "--objects=false", "--records", strconv.Itoa(c.scale.planRecords),
		"--database", "s3sync_bench_plan", "--source-bucket", "bench-plan-src", "--destination-bucket", "bench-plan-dst",
		"--s3-endpoint", c.s3.endpoint(), "--s3-access-key", c.s3.access, "--s3-secret-key", c.s3.secret,
		"--config-out", ini, "--checkpoint", ckpt}
	logf("generating the plan database (%d media records)", c.scale.planRecords)
	out := c.mustRun(filepath.Join(c.bin, "gendata"), args...)
	c.notes = append(c.notes, "plan database: `gendata --profile mastodon --media-only --bulk --objects=false --records "+
		strconv.Itoa(c.scale.planRecords)+"` → "+lastLines(out, 2))
	var rs []*result
	for round := 1; round <= c.scale.rounds; round++ {
		cmd := exec.Command(filepath.Join(c.bin, "ckpt"), "read", "--pg-url", c.pgURL, "--database", "s3sync_bench_plan")
		r := c.measure(cmd)
		m := jsonLine(r.Extra["stdout"].(string))
		r.Scenario, r.Tool, r.Round = "plan", "database read only", round
		r.Objects = int(num(m["objects"]))
		r.Extra["rows"] = num(m["rows"])
		rs = append(rs, r)

		for _, fresh := range []bool{true, false} {
			if fresh {
				os.Remove(ckpt)
				os.Remove(ckpt + ".status.json")
			}
			cmd := exec.Command(filepath.Join(c.bin, "s3sync"), "--config", ini, "--checkpoint", ckpt, "--log-level", "warn", "plan")
			r := c.measure(cmd)
			r.Scenario, r.Round = "plan", round
			r.Tool = "s3sync plan, new checkpoint"
			if !fresh {
				r.Tool = "s3sync plan again (all known)"
			}
			if m := planTotalLine.FindStringSubmatch(fullStdout(cmd)); m != nil {
				rows, _ := strconv.Atoi(m[1])
				objs, _ := strconv.Atoi(m[2])
				r.Objects, r.Extra["rows"] = objs, float64(rows)
			}
			logf("plan round %d %s: %.0f rows/s, %.0f objects/s, cpu %.1fs, rss %d MB %s", round, r.Tool,
				num(r.Extra["rows"])/r.Wall, r.objPerS(), r.cpu(), r.RSSKB/1024, r.Err)
			rs = append(rs, r)
		}
	}
	c.results = append(c.results, rs...)
	fi, _ := os.Stat(ckpt)
	var b strings.Builder
	fmt.Fprintf(&b, "## plan: %d media records\n\n", c.scale.planRecords)
	fmt.Fprintf(&b, "Checkpoint after plan: %.0f MiB. Database read only = the catalog's page-by-page scan with nothing written (scripts/bench/ckpt read).\n\n", float64(sizeOf(fi))/(1<<20))
	b.WriteString("| what | rows/s | objects/s | wall s | client CPU s | peak RSS MB |\n|---|---|---|---|---|---|\n")
	for _, name := range []string{"database read only", "s3sync plan, new checkpoint", "s3sync plan again (all known)"} {
		var g []*result
		for _, r := range rs {
			if r.Tool == name {
				g = append(g, r)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name,
			stat(g, func(r *result) float64 { return num(r.Extra["rows"]) / r.Wall }, "%.0f"),
			stat(g, (*result).objPerS, "%.0f"), stat(g, func(r *result) float64 { return r.Wall }, "%.2f"),
			stat(g, (*result).cpu, "%.2f"), stat(g, func(r *result) float64 { return float64(r.RSSKB) / 1024 }, "%.0f"))
	}
	return b.String() + errorsOf(rs) + "\n"
}

var planTotalLine = regexp.MustCompile(`(?m)^total\s+(\d+)\s+(\d+)`)

// fullStdout returns what measure captured of cmd's standard output.
func fullStdout(cmd *exec.Cmd) string {
	if b, ok := cmd.Stdout.(interface{ String() string }); ok {
		return b.String()
	}
	return ""
}

// resume builds a big checkpoint that is 99 % done and times `copy --resume --limit 1` on it
// (start to exit, which includes the first GET and PUT), against the same on a tiny one.
func (c *config) resume() string {
	d := c.dataset("tiny", "small", 50)
	big := filepath.Join(c.work, "resume.db")
	n := c.scale.resumeObject
	logf("building a %d-object checkpoint, 99%% done", n)
	cmd := exec.Command(filepath.Join(c.bin, "ckpt"), "build", "--from", d.plan, "--out", big, "--objects", strconv.Itoa(n),
		"--done-pct", "99", "--batch", "500", "--endpoint", c.s3.endpoint(), "--access-key", c.s3.access,
		"--secret-key", c.s3.secret, "--bucket", d.src, "--upload", "20")
	br := c.measure(cmd)
	if br.Err != "" {
		fatalf("ckpt build: %s", br.Err)
	}
	bm := jsonLine(br.Extra["stdout"].(string))
	var rs []*result
	for round := 1; round <= c.scale.rounds; round++ {
		for _, which := range []string{"big", "tiny"} {
			ckpt, args := big, []string{"--config", d.config, "--checkpoint", big, "--log-level", "warn", "copy", "--resume", "--limit", "1"}
			if which == "tiny" {
				ckpt = filepath.Join(c.work, "tiny-run.db")
				must(copyFile(d.plan, ckpt))
				os.Remove(ckpt + ".status.json")
				args = []string{"--config", d.config, "--checkpoint", ckpt, "--log-level", "warn", "copy", "--limit", "1"}
			}
			args = append(args, c.serverSideArgs(false)...)
			r := c.measure(exec.Command(filepath.Join(c.bin, "s3sync"), args...))
			r.Scenario, r.Round = "resume", round
			r.Tool = fmt.Sprintf("copy --resume --limit 1, %d objects, 99%% done", n)
			if which == "tiny" {
				r.Tool = fmt.Sprintf("copy --limit 1, %d objects, none done", d.objects)
			}
			r.Objects = 1
			logf("resume round %d %s: %.3fs, rss %d MB %s", round, r.Tool, r.Wall, r.RSSKB/1024, r.Err)
			rs = append(rs, r)
		}
	}
	c.results = append(c.results, rs...)
	var b strings.Builder
	fmt.Fprintf(&b, "## resume and checkpoint writes: %d objects\n\n", n)
	fmt.Fprintf(&b, "Building the checkpoint (scripts/bench/ckpt build): Merge %.0f objects/s in transactions of 20,000; "+
		"then **%.0f status updates/s** (Apply, %v updates per transaction as the copy engine flushes them, each moving an object from pending to done); file %.0f MiB.\n\n",
		num(bm["merge_objects_per_s"]), num(bm["updates_per_s"]), bm["update_batch"], num(bm["file_bytes"])/(1<<20))
	b.WriteString("Start to exit of a copy that copies one object (so it includes opening the checkpoint, checking both buckets, finding the first pending object, its GET and PUT, and the commit):\n\n")
	b.WriteString("| run | wall s | client CPU s | peak RSS MB |\n|---|---|---|---|\n")
	for _, name := range []string{rs[0].Tool, rs[1].Tool} {
		var g []*result
		for _, r := range rs {
			if r.Tool == name {
				g = append(g, r)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, stat(g, func(r *result) float64 { return r.Wall }, "%.3f"),
			stat(g, (*result).cpu, "%.3f"), stat(g, func(r *result) float64 { return float64(r.RSSKB) / 1024 }, "%.0f"))
	}
	os.Remove(big)
	return b.String() + errorsOf(rs) + "\n"
}

// profiles takes a CPU profile of s3sync and of the raw loop on the mix and small data sets
// and sums it by where the time goes.
func (c *config) profiles() string {
	var b strings.Builder
	b.WriteString("## Where s3sync's CPU time goes\n\n")
	for _, name := range []string{"mix", "small"} {
		d := &dataset{}
		profile := map[string]string{"mix": "mastodon", "small": "small"}[name]
		records := map[string]int{"mix": c.scale.mixRecords, "small": c.scale.smallRecords}[name]
		if _, err := os.Stat(filepath.Join(c.work, name+".plan.db")); err == nil {
			d = &dataset{name: name, src: "bench-" + name + "-src", dst: "bench-" + name + "-dst", config: filepath.Join(c.work, name+".ini"),
				plan: filepath.Join(c.work, name+".plan.db"), keys: filepath.Join(c.work, name+".keys")}
			d.objects, d.bytes = c.s3.count(d.src)
		} else {
			d = c.dataset(name, profile, records)
		}
		prof := filepath.Join(c.work, "s3sync-"+name+".pprof")
		must(c.s3.wipe(d.dst))
		ckpt := filepath.Join(c.work, "run.db")
		must(copyFile(d.plan, ckpt))
		r := c.measure(exec.Command(filepath.Join(c.bin, "s3sync"), append([]string{"--config", d.config, "--checkpoint", ckpt,
			"--log-level", "warn", "copy", "--concurrency", strconv.Itoa(c.conc), "--cpuprofile", prof}, c.serverSideArgs(false)...)...))
		if r.Err != "" {
			fmt.Fprintf(&b, "profile of %s failed: %s\n\n", name, r.Err)
			continue
		}
		must(c.s3.wipe(d.dst))
		rawProf := filepath.Join(c.work, "raw-"+name+".pprof")
		rr := c.measure(exec.Command(filepath.Join(c.bin, "rawcopy"), "--endpoint", c.s3.endpoint(), "--access-key", c.s3.access,
			"--secret-key", c.s3.secret, "--src", d.src, "--dst", d.dst, "--keys", d.keys, "--concurrency", strconv.Itoa(c.conc),
			"--acl", benchACL, "--cpuprofile", rawProf))
		fmt.Fprintf(&b, "### %s data set, %d workers: s3sync %.1f s wall, %.2f s CPU; raw loop %.1f s wall, %.2f s CPU\n\n",
			name, c.conc, r.Wall, r.cpu(), rr.Wall, rr.cpu())
		b.WriteString("s3sync:\n\n" + breakdown(filepath.Join(c.bin, "s3sync"), prof))
		b.WriteString("raw loop:\n\n" + breakdown(filepath.Join(c.bin, "rawcopy"), rawProf))
		for _, f := range []string{prof, rawProf} {
			_ = copyFile(f, filepath.Join(filepath.Dir(c.out), filepath.Base(f)))
		}
	}
	return b.String()
}

// breakdown sorts a CPU profile's samples by the function they were taken in (flat time)
// into the groups that matter for a copier, then lists the top functions.
func breakdown(bin, prof string) string {
	groups := []struct{ name, re string }{
		{"system calls (socket, file)", `^(internal/runtime/syscall|syscall)[./]`},
		{"garbage collector and allocator", `^runtime\.(gc|scan|mark|greyobject|mallocgc|(\(\*mspan\))|(\(\*mcache\))|(\(\*mcentral\))|(\(\*mheap\))|nextFreeFast|memclr|tryDefer|findObject|heapBits|wbBuf|bulkBarrier|sweep|writeHeapBits|spanClass|typePointers)|^internal/runtime/gc`},
		{"other Go runtime (scheduler, locks, timers, maps, stacks)", `^(runtime|internal/runtime|aeshash|indexbyte|memeqbody|cmpbody|gcWriteBarrier)`},
		{"crypto (SigV4 SHA-256 and HMAC, MD5)", `^(crypto|vendor/golang.org/x/crypto)/`},
		{"AWS SDK and smithy-go", `^github\.com/aws/`},
		{"net/http, bufio, textproto, url", `^(net/http|net/textproto|bufio|net/url|net\.|internal/poll|mime)`},
		{"checkpoint (bbolt)", `^(go\.etcd\.io/bbolt|github\.com/s3sync/s3sync/checkpoint)`},
		{"s3sync engine and storage", `^github\.com/s3sync/s3sync/`},
	}
	res := make([]*regexp.Regexp, len(groups))
	for i, g := range groups {
		res[i] = regexp.MustCompile(g.re)
	}
	out, _ := exec.Command("go", "tool", "pprof", "-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0", bin, prof).Output()
	line := regexp.MustCompile(`^\s*([0-9.]+)(ms|s|us|µs)\s+[0-9.]+%\s+[0-9.]+%\s+[0-9.]+(?:ms|s|us|µs)\s+[0-9.]+%\s+(.+)$`)
	sums := make([]float64, len(groups)+1)
	var total float64
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		switch m[2] {
		case "ms":
			v /= 1e3
		case "us", "µs":
			v /= 1e6
		}
		total += v
		k := len(groups) // other
		for i, re := range res {
			if re.MatchString(m[3]) {
				k = i
				break
			}
		}
		sums[k] += v
	}
	var b strings.Builder
	b.WriteString("| where the samples were taken (flat) | CPU s | share |\n|---|---|---|\n")
	for i, g := range groups {
		fmt.Fprintf(&b, "| %s | %.2f | %.0f%% |\n", g.name, sums[i], 100*sums[i]/max(total, 1e-9))
	}
	fmt.Fprintf(&b, "| other (strconv, fmt, sync, ...) | %.2f | %.0f%% |\n", sums[len(groups)], 100*sums[len(groups)]/max(total, 1e-9))
	top, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=25", bin, prof).Output()
	b.WriteString("\n<details><summary>top functions by cumulative time</summary>\n\n```\n" + strings.TrimSpace(string(top)) + "\n```\n</details>\n\n")
	return b.String()
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	}
	return 0
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
