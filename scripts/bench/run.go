package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dataset is one generated Mastodon database with its source bucket, config and plan.
type dataset struct {
	name, profile     string
	records           int
	src, dst          string // buckets
	config, wanConfig string // s3sync configs: direct and through the latency proxy
	plan, wanPlan     string // planned checkpoints to copy before each s3sync run
	keys              string // uploaded keys, for rawcopy and rclone
	objects           int
	bytes             int64
}

// dataset generates (once) and plans a data set.
func (c *config) dataset(name, profile string, records int, extra ...string) *dataset {
	d := &dataset{name: name, profile: profile, records: records, src: "bench-" + name + "-src", dst: "bench-" + name + "-dst",
		config: filepath.Join(c.work, name+".ini"), keys: filepath.Join(c.work, name+".keys"),
		plan: filepath.Join(c.work, name+".plan.db")}
	args := append([]string{"--profile", profile, "--records", strconv.Itoa(records), "--missing", "0", "--drifted", "0",
		"--database", "s3sync_bench_" + name, "--source-bucket", d.src, "--destination-bucket", d.dst,
		"--s3-endpoint", c.s3.endpoint(), "--s3-access-key", c.s3.access, "--s3-secret-key", c.s3.secret,
		"--config-out", d.config, "--checkpoint", d.plan, "--keys-out", d.keys, "--bulk"}, extra...)
	logf("generating data set %s (%s profile, %d records)", name, profile, records)
	out := c.mustRun(filepath.Join(c.bin, "gendata"), args...)
	c.notes = append(c.notes, fmt.Sprintf("data set %s: `gendata %s` → %s", name, strings.Join(args[:4], " "), lastLines(out, 2)))
	d.objects, d.bytes = c.s3.count(d.src)
	c.mustRun(filepath.Join(c.bin, "s3sync"), "--config", d.config, "--checkpoint", d.plan, "plan")

	// The same plan through the proxy: the checkpoint remembers the endpoint it was planned for.
	cfg, err := os.ReadFile(d.config)
	must(err)
	d.wanConfig = filepath.Join(c.work, name+".wan.ini")
	d.wanPlan = filepath.Join(c.work, name+".wan.plan.db")
	must(os.WriteFile(d.wanConfig, bytes.ReplaceAll(cfg, []byte(c.s3.endpoint()), []byte("http://"+c.proxy.addr)), 0o600))
	c.mustRun(filepath.Join(c.bin, "s3sync"), "--config", d.wanConfig, "--checkpoint", d.wanPlan, "plan")
	logf("data set %s: %d objects, %.1f MiB", name, d.objects, float64(d.bytes)/(1<<20))
	return d
}

// serverSideArgs are s3sync's flags for streaming every body through s3sync (the
// comparison with the raw loop and rclone), or for copying inside the server when both
// buckets share it (s3sync-serverside); none for an s3sync without --server-side.
func (c *config) serverSideArgs(serverSide bool) []string {
	if !c.hasServerSide {
		return nil
	}
	if serverSide {
		return []string{"--server-side", "always"}
	}
	return []string{"--server-side", "never"}
}

// benchACL is the canned ACL every tool sends with its PUTs: Mastodon's S3_PERMISSION default,
// and what gendata writes into s3sync's config.
const benchACL = "public-read"

// tool is one way to copy a data set.
type tool struct {
	name string
	conc int
}

// result is one timed run.
type result struct {
	Scenario  string         `json:"scenario"`
	Tool      string         `json:"tool"`
	Conc      int            `json:"concurrency"`
	Round     int            `json:"round"`
	Wall      float64        `json:"wall_s"`
	User      float64        `json:"user_s"`
	Sys       float64        `json:"sys_s"`
	RSSKB     int64          `json:"max_rss_kb"`
	Objects   int            `json:"objects"`
	Bytes     int64          `json:"bytes"`
	Requests  map[string]int `json:"requests"`
	ServerCPU float64        `json:"server_cpu_s"`
	Extra     map[string]any `json:"extra,omitempty"`
	Err       string         `json:"error,omitempty"`
}

func (r *result) cpu() float64     { return r.User + r.Sys }
func (r *result) objPerS() float64 { return float64(r.Objects) / r.Wall }
func (r *result) mbPerS() float64  { return float64(r.Bytes) / 1e6 / r.Wall }
func (r *result) reqPerObj() float64 {
	n := 0
	for _, v := range r.Requests {
		n += v
	}
	if r.Objects == 0 {
		return 0
	}
	return float64(n) / float64(r.Objects)
}

// copyRun runs one tool over a data set into its emptied destination bucket and checks that
// every object arrived.
func (c *config) copyRun(scenario string, d *dataset, t tool, wan bool, round int) *result {
	must(c.s3.wipe(d.dst))
	exec.Command("sync").Run() // the previous run's writes must not land in this one
	time.Sleep(500 * time.Millisecond)

	endpoint, cfg, plan := c.s3.endpoint(), d.config, d.plan
	if wan {
		endpoint, cfg, plan = "http://"+c.proxy.addr, d.wanConfig, d.wanPlan
	}
	var cmd *exec.Cmd
	switch t.name {
	case "raw":
		cmd = exec.Command(filepath.Join(c.bin, "rawcopy"), "--endpoint", endpoint, "--access-key", c.s3.access,
			"--secret-key", c.s3.secret, "--src", d.src, "--dst", d.dst, "--keys", d.keys, "--concurrency", strconv.Itoa(t.conc), "--acl", benchACL)
	case "s3sync", "s3sync-serverside":
		ckpt := filepath.Join(c.work, "run.db")
		must(copyFile(plan, ckpt))
		os.Remove(ckpt + ".status.json")
		cmd = exec.Command(filepath.Join(c.bin, "s3sync"), append([]string{"--config", cfg, "--checkpoint", ckpt, "--log-level", "warn",
			"copy", "--concurrency", strconv.Itoa(t.conc)}, c.serverSideArgs(t.name == "s3sync-serverside")...)...)
	case "rclone", "rclone-nocheck":
		args := []string{"copy", "src:" + d.src, "dst:" + d.dst, "--files-from", d.keys,
			"--transfers", strconv.Itoa(t.conc), "--checkers", strconv.Itoa(t.conc), "-q"}
		if t.name == "rclone-nocheck" {
			args = append(args, "--no-check-dest", "--no-traverse")
		}
		cmd = exec.Command("rclone", args...)
		cmd.Env = rcloneEnv(endpoint, c.s3.access, c.s3.secret)
	default:
		fatalf("unknown tool %s", t.name)
	}
	r := c.measure(cmd)
	r.Scenario, r.Tool, r.Conc, r.Round = scenario, t.name, t.conc, round
	n, size := c.s3.count(d.dst)
	r.Objects, r.Bytes = n, size
	if n != d.objects && r.Err == "" {
		r.Err = fmt.Sprintf("destination has %d of %d objects", n, d.objects)
	}
	logf("%s round %d %s@%d: %.1f obj/s, %.1f MB/s, cpu %.2fs, rss %d MB, %.2f req/obj %s",
		scenario, round, t.name, t.conc, r.objPerS(), r.mbPerS(), r.cpu(), r.RSSKB/1024, r.reqPerObj(), r.Err)
	c.results = append(c.results, r)
	return r
}

// measure runs cmd and returns its wall time, CPU, peak RSS, the requests the server saw and
// the server's CPU.
func (c *config) measure(cmd *exec.Cmd) *result {
	if cmd.Env == nil {
		cmd.Env = cleanEnv()
	}
	// Peak RSS comes from GNU time, which forks (a small process) before exec: a child
	// started directly by Go shares the driver's memory until exec, and the kernel then reports
	// at least the driver's RSS as the child's peak.
	rssFile := filepath.Join(c.work, "time.rss")
	os.Remove(rssFile)
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		wrapped := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, cmd.Path}, cmd.Args[1:]...)...)
		wrapped.Env, wrapped.Dir = cmd.Env, cmd.Dir
		*cmd = *wrapped
	}
	var stderr, stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	c.s3.markLog()
	cpu0 := c.s3.cpu()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	r := &result{Wall: wall, ServerCPU: c.s3.cpu() - cpu0, Extra: map[string]any{}}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.User = time.Duration(ru.Utime.Nano()).Seconds()
		r.Sys = time.Duration(ru.Stime.Nano()).Seconds()
		r.RSSKB = ru.Maxrss
	}
	if data, err := os.ReadFile(rssFile); err == nil {
		// "%M\n", after "Command exited with non-zero status N" when it failed
		if f := strings.Fields(string(data)); len(f) > 0 {
			if n, err := strconv.ParseInt(f[len(f)-1], 10, 64); err == nil {
				r.RSSKB = n
			}
		}
	}
	if err != nil {
		r.Err = fmt.Sprintf("%v: %s", err, lastLines(stderr.String()+stdout.String(), 3))
	}
	r.Requests = c.s3.requestsSince()
	r.Extra["stdout"] = lastLines(stdout.String(), 3)
	return r
}

// rounds runs every tool once per round, rotating the order each round.
func (c *config) rounds(scenario string, d *dataset, tools []tool, wan bool) []*result {
	var out []*result
	for round := 1; round <= c.scale.rounds; round++ {
		for i := range tools {
			t := tools[(i+round-1)%len(tools)]
			out = append(out, c.copyRun(scenario, d, t, wan, round))
		}
	}
	return out
}

func rcloneEnv(endpoint, access, secret string) []string {
	env := cleanEnv()
	for _, name := range []string{"SRC", "DST"} {
		p := "RCLONE_CONFIG_" + name + "_"
		env = append(env, p+"TYPE=s3", p+"PROVIDER=Other", p+"ENDPOINT="+endpoint, p+"ACCESS_KEY_ID="+access,
			p+"SECRET_ACCESS_KEY="+secret, p+"REGION=us-east-1", p+"FORCE_PATH_STYLE=true", p+"ACL="+benchACL,
			// The buckets exist; without this, rclone-nocheck creates the destination with the ACL
			// as a bucket ACL, which the gateway refuses (BucketOwnerEnforced).
			p+"NO_CHECK_BUCKET=true")
	}
	return append(env, "RCLONE_CONFIG=/dev/null")
}

// cleanEnv is the environment without AWS_* variables (AWS_CA_BUNDLE breaks rclone 1.60 on
// plain http; none of the tools should read any of them).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *config) mustRun(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Env = cleanEnv()
	cmd.Dir = c.repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// jsonLine decodes the last JSON line of out.
func jsonLine(out string) map[string]any {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &m)
	return m
}
