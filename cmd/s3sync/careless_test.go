package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage/s3test"
)

// Careless and hostile inputs: an --output aimed at the checkpoint, a forged status file, absurd
// flag values, signals other than Ctrl-C, a dangling checkpoint symlink, a proxy in the
// environment, keys S3 cannot hold.

// sha256File returns the hex SHA-256 of the file at path.
func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// runBinary runs the s3sync binary with the sandbox's config and kills it after limit, so that
// a command that hangs fails the test instead of the whole run.
func (s *sandbox) runBinary(limit time.Duration, extraEnv []string, args ...string) result {
	s.t.Helper()
	cmd := s.command(args...)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode() // -1 when killed
	} else if err != nil {
		s.t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// lockCheckpoint holds the sandbox's checkpoint open for writing, as a running copy does,
// until the returned function is called.
func (s *sandbox) lockCheckpoint() func() {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{Timeout: 5 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	var once sync.Once
	unlock := func() { once.Do(func() { db.Close() }) }
	s.t.Cleanup(unlock)
	return unlock
}

// 1. `--output` never destroys the checkpoint: an output that is the checkpoint, its status
// file, a link to either, or another checkpoint is refused (exit 2) before anything is opened,
// and the checkpoint stays byte-identical. A run that fails leaves an existing output file as
// it was: the report goes to a temporary file renamed into place only on success.
func TestOutputNeverOverwritesCheckpoint(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 12)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	status := engine.StatusPath(s.checkpoint)
	wantCP, wantStatus := sha256File(t, s.checkpoint), sha256File(t, status)

	link := filepath.Join(s.dir, "link.csv")
	if err := os.Symlink(s.checkpoint, link); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(s.dir, "shard-copy.db") // another checkpoint, not the configured one
	data, err := os.ReadFile(s.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shard, data, 0o600); err != nil {
		t.Fatal(err)
	}
	wantShard := sha256File(t, shard)
	roundabout := filepath.Join(s.dir, "sub", "..", filepath.Base(s.checkpoint)) // the same path, spelt differently
	if err := os.Mkdir(filepath.Join(s.dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"report", "--output", s.checkpoint},
		{"report", "--format", "csv", "--output", s.checkpoint},
		{"report", "--format", "json", "--output", status},
		{"report", "--output", link},
		{"report", "--output", roundabout},
		{"report", "--output", shard},
		{"--checkpoint", shard, "report", "--output", s.checkpoint},
		{"report", "--merge", "--output", s.checkpoint, s.checkpoint},
		{"report", "--merge", "--format", "csv", "--output", shard, s.checkpoint},
		{"orphans", "--output", s.checkpoint},
		{"orphans", "--output", status},
		{"orphans", "-o", link},
		{"report", "--output", s.config},
	} {
		r := s.runBinary(30*time.Second, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--output") {
			t.Errorf("s3sync %s: want exit 2 naming --output, got %s", strings.Join(args, " "), r)
		}
	}
	if got := sha256File(t, s.checkpoint); got != wantCP {
		t.Errorf("the checkpoint changed")
	}
	if got := sha256File(t, status); got != wantStatus {
		t.Errorf("the status file changed")
	}
	if got := sha256File(t, shard); got != wantShard {
		t.Errorf("the other checkpoint changed")
	}
	if c := s.counts(); c[checkpoint.Done] != 12 {
		t.Errorf("counts after the refusals: %v", c)
	}

	// A report that fails (the checkpoint is locked and no status snapshot answers) leaves the
	// existing output as it was.
	out := filepath.Join(s.dir, "left.csv")
	if err := os.WriteFile(out, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock := s.lockCheckpoint()
	if r := s.run("report", "--format", "csv", "--output", out); r.code == exitOK {
		t.Errorf("report on a locked checkpoint: %s", r)
	}
	if got, _ := os.ReadFile(out); string(got) != "precious\n" {
		t.Errorf("a failed report changed its output file: %q", got)
	}
	unlock()
	r := s.must(exitOK, "report", "--format", "csv", "--status", "done", "--output", out)
	got, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(got), strings.Join(engine.CSVHeader, ",")+"\n") || strings.Count(string(got), "\n") != 13 {
		t.Errorf("report --output wrote:\n%s\n%s", got, r)
	}
	if left, _ := filepath.Glob(filepath.Join(s.dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A device stays a device: --output /dev/null writes through it.
	s.must(exitOK, "report", "--output", os.DevNull)
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("%s is no longer a device: %v %v", os.DevNull, fi, err)
	}
}

// 1. A running copy's checkpoint and status file survive `report --output` and `orphans
// --output` aimed at them: both are refused, and the copy finishes with every object done.
func TestOutputSparesLiveCheckpoint(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 120)
	cmd, stderr := s.startSlowCopy(40*time.Millisecond, 10)
	ino := func(path string) uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	before := ino(s.checkpoint)
	for _, args := range [][]string{
		{"report", "--output", s.checkpoint},
		{"report", "--format", "csv", "--output", s.checkpoint},
		{"report", "--output", engine.StatusPath(s.checkpoint)},
		{"orphans", "--output", s.checkpoint},
	} {
		r := s.runBinary(30*time.Second, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--output") {
			t.Errorf("s3sync %s during a copy: want exit 2 naming --output, got %s", strings.Join(args, " "), r)
		}
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err != nil {
		t.Fatalf("the copy: %v\n%s", err, stderr)
	}
	if ino(s.checkpoint) != before {
		t.Errorf("the checkpoint was replaced")
	}
	if c := s.counts(); c[checkpoint.Done] != 120 {
		t.Errorf("counts %v", c)
	}
	s.assertCopied(bodies)
}

// trap is a TCP listener that records every connection and what it was sent, and answers
// nothing useful.
type trap struct {
	ln   net.Listener
	mu   sync.Mutex
	got  []string
	done chan struct{}
}

func newTrap(t *testing.T, host string) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			req, err := http.ReadRequest(bufio.NewReader(c))
			text := "(unreadable)"
			if err == nil {
				text = req.Method + " " + req.URL.String() + " Authorization: " + req.Header.Get("Authorization")
			}
			tr.mu.Lock()
			tr.got = append(tr.got, text)
			tr.mu.Unlock()
			fmt.Fprint(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-tr.done })
	return tr
}

func (tr *trap) addr() string { return tr.ln.Addr().String() }

func (tr *trap) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

// nonLoopbackIP returns an address of this machine beyond loopback, or "" when it has none.
func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// 2. `s3sync status` (and `report`) send the status token only to a status server of a copy
// that holds the checkpoint, on this machine: a status file forged (or left stale) with
// another address is refused, whatever its pid, and nothing connects to that address.
func TestStatusFileCannotRedirectToken(t *testing.T) {
	const token = "tok-7f3a91c2"
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.extra = "status_token = " + token
	s.writeConfig()
	s.must(exitOK, "plan")

	local := newTrap(t, "127.0.0.1")
	far := "192.0.2.1:5555" // TEST-NET-1: nothing answers there
	var farTrap *trap
	if ip := nonLoopbackIP(); ip != "" {
		farTrap = newTrap(t, ip)
		far = farTrap.addr()
	}
	forge := func(addr string) {
		t.Helper()
		st := engine.Status{PID: os.Getpid(), Command: "copy", Running: true, StartedAt: time.Now(), UpdatedAt: time.Now(), StatusAddr: addr}
		if err := engine.WriteStatus(engine.StatusPath(s.checkpoint), st); err != nil {
			t.Fatal(err)
		}
	}

	// No copy holds the checkpoint: the status file is not believed, whatever address it names.
	for _, addr := range []string{local.addr(), far} {
		forge(addr)
		start := time.Now()
		r := s.run("status")
		if r.code == exitOK || !strings.Contains(r.stderr, "not contact") || strings.Contains(r.stderr, token) {
			t.Errorf("status with a forged status file naming %s and no copy running: %s", addr, r)
		}
		if time.Since(start) > 8*time.Second {
			t.Errorf("status took %s: it tried to reach %s", time.Since(start), addr)
		}
	}
	// The checkpoint is locked as a running copy locks it: a loopback address is asked (with
	// the token), any other is refused.
	unlock := s.lockCheckpoint()
	forge(far)
	if r := s.run("status"); r.code == exitOK || !strings.Contains(r.stderr, "loopback") {
		t.Errorf("status with a locked checkpoint and a status file naming %s: %s", far, r)
	}
	if r := s.run("report", "--format", "csv"); r.code == exitOK {
		t.Errorf("report with a locked checkpoint and a status file naming %s: %s", far, r)
	}
	if got := local.requests(); len(got) != 0 {
		t.Errorf("the loopback listener was contacted without a copy: %q", got)
	}
	if farTrap != nil {
		if got := farTrap.requests(); len(got) != 0 {
			t.Errorf("the non-loopback listener %s was contacted: %q", far, got)
		}
	}
	forge(local.addr())
	s.run("status") // the trap answers 500; what matters is that it was asked, with the token
	got := local.requests()
	if len(got) != 1 || !strings.Contains(got[0], "/api/status") || !strings.Contains(got[0], "Bearer "+token) {
		t.Errorf("a locked checkpoint's loopback status server was not asked: %q", got)
	}
	unlock()
}

// 3. The limit flags share the config's bounds: --concurrency as [sync] concurrency (1 to
// 10000), --max-rps 1 to 1,000,000 (0 = no limit), --bwlimit 1k to 1024G; NaN, infinities,
// negative, tiny and huge values are usage errors naming the flag and the range.
func TestLimitFlagBounds(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.must(exitOK, "plan")
	bad := map[string][]string{
		"--concurrency": {"10001", "1000000000"},
		"--max-rps":     {"NaN", "Inf", "-Inf", "-1", "1e-300", "0.5", "1e300", "1000001"},
		"--bwlimit":     {"NaN", "Inf", "-5M", "1e-300", "0", "10", "0.5k", "1e30G", "1025G"},
	}
	want := map[string]string{"--concurrency": "1 to 10000", "--max-rps": "1 to 1000000", "--bwlimit": "1k to 1024G"}
	for _, command := range []string{"copy", "retry-failed"} {
		for flag, values := range bad {
			for _, v := range values {
				r := s.runBinary(30*time.Second, nil, command, flag+"="+v)
				if r.code != exitUsage || !strings.Contains(r.stderr, flag) || !strings.Contains(r.stderr, want[flag]) {
					t.Errorf("%s %s=%s: want exit 2 naming %s and %q, got %s", command, flag, v, flag, want[flag], r)
				}
			}
		}
	}
	// The bounds themselves are accepted.
	for _, o := range []copyOptions{
		{concurrency: maxConcurrency, maxRPS: minMaxRPS, bwlimit: "1k"},
		{concurrency: 1, maxRPS: maxMaxRPS, bwlimit: "1024G"},
		{maxRPS: 0, bwlimit: "50M"},
	} {
		if _, err := parseLimitFlags(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	// The flag's bound is the config's.
	for n, ok := range map[int]bool{maxConcurrency: true, maxConcurrency + 1: false} {
		text := strings.Replace(goodConfig, "concurrency = 8", fmt.Sprintf("concurrency = %d", n), 1)
		if _, err := ParseConfig(strings.NewReader(text), noEnv); (err == nil) != ok {
			t.Errorf("[sync] concurrency = %d: %v", n, err)
		}
	}
	s.must(exitOK, "copy", "--resume", "--concurrency", "2", "--max-rps", "1000", "--bwlimit", "100M")
}

// lockedTables holds an ACCESS EXCLUSIVE lock on table until the returned function is
// called, so that plan waits on it.
func lockedTable(t *testing.T, s *sandbox, table string) func() {
	t.Helper()
	ctx := context.Background()
	conn := s.connect()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// waitingOnLock reports whether a session of the sandbox's database waits for a lock.
func waitingOnLock(t *testing.T, s *sandbox) bool {
	t.Helper()
	ctx := context.Background()
	conn := s.connect()
	defer conn.Close(ctx)
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE NOT l.granted AND d.datname = current_database()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// exitOf returns the exit code of a finished command.
func exitOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

// 4. Ctrl-C during plan advises running plan again (it merges), not a --resume plan lacks.
func TestPlanInterruptAdvice(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 20)
	release := lockedTable(t, s, "preview_cards")
	cmd, stderr := s.start("plan")
	waitFor(t, "plan waiting on the locked table", 30*time.Second, func() bool { return waitingOnLock(t, s) })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := exitOf(t, cmd.Wait())
	text := stderr.String()
	if code != exitInterrupted || strings.Contains(text, "--resume") || !strings.Contains(text, "plan` again") {
		t.Errorf("interrupted plan: exit %d\n%s", code, text)
	}
	release()
	r := s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "preview_cards") {
		t.Errorf("plan again:\n%s", r)
	}
}

// 4. Ctrl-C during retry-failed advises `s3sync copy --resume`, which finishes the job.
func TestRetryFailedInterruptAdvice(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 150)
	proxy := s.proxySource()
	s.must(exitOK, "plan")
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if strings.Contains(r.URL.Path, "/preview_cards/") {
			return s3test.Status(http.StatusNotFound, "NoSuchKey")
		}
		return s3test.Pass()
	})
	s.must(exitOK, "copy")
	if c := s.counts(); c[checkpoint.Missing] != 150 {
		t.Fatalf("counts %v", c)
	}
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/preview_cards/") {
			return s3test.Delay(30 * time.Millisecond)
		}
		return s3test.Pass()
	})
	cmd, stderr := s.start("retry-failed", "--include-missing", "--concurrency", "4")
	waitFor(t, "10 objects at the destination", time.Minute, func() bool { return len(s.s3.Keys(t, s.dst)) >= 10 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := exitOf(t, cmd.Wait())
	text := stderr.String()
	if code != exitInterrupted || !strings.Contains(text, "copy --resume") || strings.Contains(text, "retry-failed --resume") ||
		strings.Contains(text, "--include-missing") {
		t.Errorf("interrupted retry-failed: exit %d\n%s", code, text)
	}
	proxy.SetRule(nil)
	s.must(exitOK, "copy", "--resume")
	s.assertCopied(bodies)
}

// 4, 6. The advice after a signal names the command that continues the run, rebuilt from the
// command line: copy gets --resume (once), retry-failed becomes copy --resume (without
// --include-missing, which copy lacks), plan runs again; SIGTERM is said as such.
func TestInterruptedAdviceCommands(t *testing.T) {
	for _, tc := range []struct {
		command string
		args    []string
		sig     os.Signal
		want    string
	}{
		{"copy", []string{"/bin/s3sync", "--config", "copy", "copy", "--only", "accounts"}, syscall.SIGINT,
			"interrupted; the checkpoint is saved: run `s3sync --config copy copy --resume --only accounts` to continue"},
		{"copy", []string{"s3sync", "copy", "--resume", "--limit", "10"}, syscall.SIGTERM,
			"stopped by SIGTERM; the checkpoint is saved: run `s3sync copy --resume --limit 10` to continue"},
		{"retry-failed", []string{"s3sync", "--checkpoint=a b.db", "retry-failed", "--include-missing", "--shard", "1/4"}, syscall.SIGINT,
			"run `s3sync '--checkpoint=a b.db' copy --resume --shard 1/4` to continue"},
		{"plan", []string{"s3sync", "--log-level", "debug", "plan", "--only", "accounts"}, syscall.SIGINT,
			"run `s3sync --log-level debug plan --only accounts` again to finish (plan merges"},
		{"verify", []string{"s3sync", "verify"}, syscall.SIGINT, "interrupted: run `s3sync verify` again"},
	} {
		got := interruptedAdvice(runInfo{command: tc.command, args: tc.args, signal: tc.sig})
		if !strings.Contains(got, tc.want) || (tc.command != "copy" && strings.Contains(got, tc.command+" --resume")) {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
	}
	for sig, want := range map[os.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143, nil: 130} {
		if got := signalExitCode(sig); got != want {
			t.Errorf("%v: exit %d, want %d", sig, got, want)
		}
	}
}

// 6. SIGTERM (systemd, Kubernetes, docker stop) stops a copy as Ctrl-C does, with exit 143.
func TestSIGTERMExits143(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 200)
	cmd, stderr := s.startSlowCopy(30*time.Millisecond, 20)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := exitOf(t, cmd.Wait())
	if code != exitTerminated || !strings.Contains(stderr.String(), "copy --resume") {
		t.Fatalf("SIGTERM: exit %d, want %d\n%s", code, exitTerminated, stderr.String())
	}
	s.assertDoneAtDestination(bodies)
	s.must(exitOK, "copy", "--resume")
	s.assertCopied(bodies)
}

// 5. A missing config file names the file to create, with no format verb left in the hint.
func TestMissingConfigHintNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.ini")
	for _, args := range [][]string{{"--config", path, "plan"}, {"--config", path, "copy"}, {"--config", path, "status"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"s3sync"}, args...), env{stdout: &out, stderr: &errb, getenv: noEnv})
		if code != exitUsage || strings.Contains(errb.String(), "%") || !strings.Contains(errb.String(), "Try: copy private/config.sample.ini to "+path) {
			t.Errorf("%v: exit %d\n%s", args, code, errb.String())
		}
	}
}

// 7. A checkpoint path that is a symlink to nothing is refused before anything is opened:
// its target is never created.
func TestDanglingCheckpointSymlink(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	target := filepath.Join(s.dir, "elsewhere.db")
	if err := os.Symlink(target, s.checkpoint); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan"}, {"copy"}, {"copy", "--resume"}, {"retry-failed"}, {"report"}, {"verify"}, {"usage"}} {
		r := s.run(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, s.checkpoint) || !strings.Contains(r.stderr, "symlink") {
			t.Errorf("%v: want exit 2 naming %s as a dangling symlink, got %s", args, s.checkpoint, r)
		}
		if _, err := os.Lstat(target); err == nil {
			t.Fatalf("%v created the symlink's target %s", args, target)
		}
	}
	// A symlink to an existing checkpoint is fine.
	if err := os.Remove(s.checkpoint); err != nil {
		t.Fatal(err)
	}
	s.must(exitOK, "--checkpoint", target, "plan")
	if err := os.Symlink(target, s.checkpoint); err != nil {
		t.Fatal(err)
	}
	s.must(exitOK, "copy")
	s.must(exitOK, "report")
}

// forwardProxy is an HTTP forward proxy that sends every request to target, keeping its Host
// (so the S3 signature holds), and counts them.
type forwardProxy struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

func newForwardProxy(t *testing.T, target string) *forwardProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &forwardProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
		r.Out.URL.Scheme, r.Out.URL.Host = u.Scheme, u.Host
		r.Out.Host = r.In.Host // the signed Host
	}}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

func (p *forwardProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// 8. HTTP_PROXY in the environment sends S3 traffic through the proxy, as Go's transport
// does; s3sync says so once at start-up, naming the proxy without its credentials. NO_PROXY
// and loopback endpoints (never proxied) give no warning.
func TestProxyInEnvironmentIsLogged(t *testing.T) {
	const proxiedHost = "s3sync-proxied.test"
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 5)
	s.must(exitOK, "plan") // loopback endpoints
	proxy := newForwardProxy(t, s.s3.Endpoint)
	pu, _ := url.Parse(proxy.URL)
	withProxy := []string{"HTTP_PROXY=http://alice:hunter2@" + pu.Host}
	const warning = "S3 requests go through a proxy"

	// Loopback endpoints: Go never proxies them, so no warning.
	r := s.runBinary(time.Minute, withProxy, "copy", "--limit", "1")
	if r.code != exitOK || strings.Contains(r.stderr, warning) || proxy.count() != 0 {
		t.Errorf("loopback endpoints with HTTP_PROXY: %d proxied requests\n%s", proxy.count(), r)
	}

	// A named endpoint is proxied: warned once, the proxy named without user or password.
	s3u, _ := url.Parse(s.s3.Endpoint)
	s.srcURL = "http://" + net.JoinHostPort(proxiedHost, s3u.Port())
	s.dstURL = s.srcURL
	s.checkpoint = filepath.Join(s.dir, "proxied.db")
	s.writeConfig()
	s.must(exitOK, "plan")
	r = s.runBinary(time.Minute, withProxy, "copy")
	if r.code != exitOK || strings.Count(r.stderr, warning) != 1 || !strings.Contains(r.stderr, pu.Host) ||
		!strings.Contains(r.stderr, proxiedHost) || strings.Contains(r.stderr, "hunter2") || strings.Contains(r.stderr, "alice") {
		t.Errorf("proxied endpoints: %s", r)
	}
	if proxy.count() == 0 {
		t.Errorf("nothing went through the proxy")
	}
	s.assertCopied(bodies)

	// NO_PROXY names the endpoint: no warning (the host does not resolve, so the run fails).
	r = s.runBinary(time.Minute, append(withProxy, "NO_PROXY="+proxiedHost), "check")
	if strings.Contains(r.stderr, warning) {
		t.Errorf("NO_PROXY: %s", r)
	}
	// Commands that do not talk to S3 say nothing.
	r = s.runBinary(time.Minute, withProxy, "report")
	if r.code != exitOK || strings.Contains(r.stderr, warning) {
		t.Errorf("report: %s", r)
	}
}

// 9. A key longer than S3's 1,024 bytes (a 10,000-character file name in the database) cannot
// be stored in any bucket: plan leaves it out, says so in its table, and logs each such object
// (table, id, key length) up to a cap; copy then finishes with nothing failed.
func TestOverlongKeyIsReportedByPlan(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 3)
	long := strings.Repeat("a", 10000) + ".jpg"
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type)
		SELECT i, 'https://long.example/' || i, $1, 'image/jpeg' FROM generate_series(101, 125) AS i`, long)
	r := s.must(exitOK, "plan")
	keyLen := len(fmt.Sprintf("preview_cards/images/000/000/101/original/%s", long))
	var note string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "preview_cards ") {
			note = line
		}
	}
	if !strings.Contains(note, "25 key(s) over 1024 bytes") {
		t.Errorf("plan's table has no note for the overlong keys:\n%s", r)
	}
	if n := strings.Count(r.stderr, fmt.Sprintf("key_bytes=%d", keyLen)); n != engine.OverlongLogCap {
		t.Errorf("want %d log lines naming the key length %d, got %d:\n%s", engine.OverlongLogCap, keyLen, n, r.stderr)
	}
	if !strings.Contains(r.stderr, "table=preview_cards") || !strings.Contains(r.stderr, "id=101") ||
		!strings.Contains(r.stderr, fmt.Sprintf("%d more", 25-engine.OverlongLogCap)) {
		t.Errorf("the log does not name table, id and the objects left unlogged:\n%s", r.stderr)
	}
	if c := s.counts(); c[checkpoint.Pending] != 3 {
		t.Errorf("checkpoint: %v, want the 3 copyable objects only", c)
	}
	s.must(exitOK, "copy")
	s.assertCopied(bodies)
	// A second plan says the same, and a delta plan too.
	if r := s.must(exitOK, "plan"); !strings.Contains(r.stdout, "25 key(s) over 1024 bytes") {
		t.Errorf("second plan:\n%s", r)
	}
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES (200, 'https://long.example/200', $1, 'image/jpeg')`, long)
	if r := s.must(exitOK, "plan", "--changed"); !strings.Contains(r.stdout, "1 key(s) over 1024 bytes") {
		t.Errorf("plan --changed:\n%s", r)
	}
}
