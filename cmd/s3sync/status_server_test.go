package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
	"github.com/s3sync/s3sync/storage"
)

func TestStatusConfig(t *testing.T) {
	base := strings.Replace(goodConfig, "[sync]\n", "[sync]\nstatus_addr = 5555\nstatus_token = FILETOKEN\n", 1)
	cfg, err := ParseConfig(strings.NewReader(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StatusAddr != "5555" || cfg.StatusToken != "FILETOKEN" || len(cfg.Warnings) != 0 {
		t.Errorf("status_addr %q status_token %q warnings %q", cfg.StatusAddr, cfg.StatusToken, cfg.Warnings)
	}
	env := func(k string) string {
		if k == "S3SYNC_STATUS_TOKEN" {
			return "ENVTOKEN"
		}
		return ""
	}
	if cfg, err = ParseConfig(strings.NewReader(base), env); err != nil || cfg.StatusToken != "ENVTOKEN" {
		t.Errorf("the environment must win: %v %q", err, cfg.StatusToken)
	}
	noSync := goodConfig[:strings.Index(goodConfig, "[sync]")]
	if cfg, err = ParseConfig(strings.NewReader(noSync), env); err != nil || cfg.StatusToken != "ENVTOKEN" || cfg.StatusAddr != "" {
		t.Errorf("token from the environment without [sync]: %v %+v", err, cfg)
	}
	_, err = ParseConfig(strings.NewReader(strings.Replace(base, "status_addr = 5555", "status_addr = here", 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), "[sync] status_addr") || !strings.Contains(err.Error(), "127.0.0.1:5555") {
		t.Errorf("bad status_addr: %v", err)
	}
}

// The page's configuration shows where the run goes, never a key or a token.
func TestStatusConfigShowsNoSecret(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(strings.Replace(goodConfig, "[sync]\n", "[sync]\nstatus_token = TOKENSECRET\n", 1)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	items := statusConfig(cfg, statusRun{command: "copy", concurrency: 8, kinds: []string{"accounts"}, limit: 10, checkpoint: "x.db"}, "127.0.0.1:5555")
	text, _ := json.Marshal(items)
	for _, secret := range []string{"SRCACCESS", "SRCSECRET", "DSTACCESS", "DSTSECRET", "PGSECRET", "TOKENSECRET"} {
		if bytes.Contains(text, []byte(secret)) {
			t.Errorf("the status config shows %s: %s", secret, text)
		}
	}
	for _, want := range []string{"s3://old-media", "s3://new-media/mastodon", "public-read", "accounts", "token required", `"10"`} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("the status config lacks %s: %s", want, text)
		}
	}
}

// startCopy plans, then starts the s3sync binary copying through a source that delays every
// GET by delay, with args after `copy`; it returns once the status file names the copy's
// status server, and the server's address.
func (s *sandbox) startCopy(delay time.Duration, args ...string) (*exec.Cmd, *bytes.Buffer, string) {
	s.t.Helper()
	slowSource(s, delay)
	s.must(exitOK, "plan")
	cmd, stderr := s.start(append([]string{"copy"}, args...)...)
	var addr string
	waitFor(s.t, "the status server's address in the status file", 30*time.Second, func() bool {
		st, err := engine.ReadStatus(engine.StatusPath(s.checkpoint))
		addr = st.StatusAddr
		return err == nil && st.PID == cmd.Process.Pid && addr != ""
	})
	return cmd, stderr, addr
}

// removeSource deletes keys from the source bucket, so that their objects end as missing.
func (s *sandbox) removeSource(keys ...string) {
	s.t.Helper()
	c, err := storage.New(s.s3.Config(s.src))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, k := range keys {
		if err := c.Delete(context.Background(), k); err != nil {
			s.t.Fatal(err)
		}
	}
}

func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.SetBasicAuth("admin", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A copy with a status server and a token: the server is found through the status file,
// answers with the token only, shows no secret, counts S3 requests, and serves `s3sync
// status` and `s3sync report` (counts and the failed and missing rows) while the checkpoint
// is locked.
func TestCopyWithStatusServer(t *testing.T) {
	const token = "st-9d2e41"
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 150)
	s.removeSource("preview_cards/images/000/000/003/original/card3.jpg")
	s.extra = "status_token = " + token
	cmd, stderr, addr := s.startCopy(150*time.Millisecond, "--concurrency", "2", "--status-addr", "127.0.0.1:0")
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("status address %q", addr)
	}
	base := "http://" + addr

	// Every endpoint wants the token.
	for _, path := range []string{"/", "/api/status", "/api/failures", "/metrics"} {
		if code, _ := httpGet(t, base+path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d", path, code)
		}
	}
	// Once card3 is missing, everything can be checked.
	waitFor(t, "the missing object in /api/status", 30*time.Second, func() bool {
		_, body := httpGet(t, base+"/api/status", token)
		return strings.Contains(body, "card3.jpg")
	})
	var st statusserver.Status
	_, body := httpGet(t, base+"/api/status", token)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != engine.PhaseCopying || st.PID != cmd.Process.Pid || st.Run.Total.Objects != 150 || st.Run.Missing.Objects != 1 || st.Command != "copy" {
		t.Errorf("status: phase %s pid %d run %+v", st.Phase, st.PID, st.Run)
	}
	pages := map[string]string{"/api/status": body}
	for _, path := range []string{"/", "/metrics", "/api/failures"} {
		code, b := httpGet(t, base+path, token)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, b)
		}
		pages[path] = b
	}
	for path, b := range pages {
		for _, secret := range []string{s.s3.AccessKey, s.s3.SecretKey, token} {
			if strings.Contains(b, secret) {
				t.Errorf("%s shows the secret %q", path, secret)
			}
		}
	}
	if m := pages["/metrics"]; !strings.Contains(m, `s3sync_requests_total{op="GetObject",outcome="ok"}`) ||
		!strings.Contains(m, `s3sync_requests_total{op="GetObject",outcome="not_found"}`) ||
		!strings.Contains(m, `s3sync_requests_total{op="PutObject",outcome="ok"}`) ||
		!strings.Contains(m, `s3sync_objects_total{kind="preview_cards",status="missing"} 1`) {
		t.Errorf("metrics lack request counts or the missing object:\n%s", m)
	}
	if !strings.Contains(pages["/api/failures"], "card3.jpg") {
		t.Errorf("/api/failures: %s", pages["/api/failures"])
	}

	// s3sync status finds the server through the status file; report asks it too.
	r := s.must(exitOK, "status")
	if !strings.Contains(r.stdout, fmt.Sprintf("s3sync copy (pid %d): copying", cmd.Process.Pid)) || !strings.Contains(r.stdout, "preview_cards") ||
		!strings.Contains(r.stdout, "/150 objects") || !strings.Contains(r.stdout, "card3.jpg") {
		t.Errorf("status:\n%s", r)
	}
	r = s.must(exitOK, "status", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Run.Total.Objects != 150 {
		t.Errorf("status --json: %v\n%s", err, r.stdout)
	}
	r = s.must(exitOK, "report")
	if !strings.Contains(r.stderr, "from its status server at "+addr) || !strings.Contains(r.stdout, "preview_cards") {
		t.Errorf("report while locked:\n%s", r)
	}
	r = s.must(exitOK, "report", "--format", "csv")
	if !strings.HasPrefix(r.stdout, strings.Join(engine.CSVHeader, ",")+"\n") || !strings.Contains(r.stdout, "card3.jpg,missing") {
		t.Errorf("csv report while locked:\n%s", r)
	}
	if r := s.run("report", "--format", "csv", "--status", "done"); r.code != exitError || !strings.Contains(r.stderr, "only the table report") {
		t.Errorf("a done report while locked: %s", r)
	}
	// --addr works without the status file's help, and a wrong token is a usage error.
	r = s.must(exitOK, "status", "--addr", addr)
	if !strings.Contains(r.stdout, "preview_cards") {
		t.Errorf("status --addr:\n%s", r)
	}
	s.extra = "status_token = wrong"
	s.writeConfig()
	if r := s.run("status"); r.code != exitUsage || !strings.Contains(r.stderr, "wants its token") {
		t.Errorf("wrong token: %s", r)
	}

	if err := cmd.Wait(); err != nil {
		t.Fatalf("copy: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), `"message":"status page"`) {
		t.Errorf("the copy does not log its status page:\n%s", stderr)
	}
	if r := s.run("status"); r.code != exitError || !strings.Contains(r.stderr, "no copy is running") {
		t.Errorf("status after the copy: %s", r)
	}
}

// Binding beyond loopback needs an explicit address and is logged as a warning; a port that
// is taken is a usage error naming the address.
func TestStatusAddrChecks(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.must(exitOK, "plan")
	var errb bytes.Buffer
	code := run(context.Background(), []string{"s3sync", "--config", s.config, "--log-format", "json", "copy", "--status-addr", "0.0.0.0:0"},
		env{stdout: io.Discard, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitOK || !strings.Contains(errb.String(), `"level":"warn"`) || !strings.Contains(errb.String(), "beyond this machine") {
		t.Errorf("0.0.0.0: exit %d\n%s", code, errb.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := s.run("copy", "--resume", "--status-addr", ln.Addr().String())
	if r.code != exitUsage || !strings.Contains(r.stderr, "cannot listen") {
		t.Errorf("a busy port: %s", r)
	}
	if r := s.run("copy", "--resume", "--status-addr", "nowhere"); r.code != exitUsage || !strings.Contains(r.stderr, "--status-addr") {
		t.Errorf("a bad address: %s", r)
	}
}

// --log-format json gives one JSON object per line; --log-file writes the same lines, plus
// the exit, to a file only its owner can read.
func TestLogFileAndJSON(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 5)
	s.must(exitOK, "plan")
	logPath := filepath.Join(s.dir, "logs", "s3sync.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"s3sync", "--config", s.config, "--log-format", "json", "--log-file", logPath, "copy"},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	lines := func(text string) []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("not a JSON line: %q", line)
				continue
			}
			out = append(out, m)
		}
		return out
	}
	stderrLines := lines(errb.String())
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	fileLines := lines(string(data))
	if len(stderrLines) < 2 || len(fileLines) != len(stderrLines)+1 {
		t.Fatalf("stderr has %d lines, the file %d:\n%s\n%s", len(stderrLines), len(fileLines), errb.String(), data)
	}
	for i, m := range stderrLines {
		if m["message"] != fileLines[i]["message"] || m["level"] == nil || m["time"] == nil {
			t.Errorf("line %d: stderr %v, file %v", i, m, fileLines[i])
		}
	}
	if last := fileLines[len(fileLines)-1]; last["message"] != "exit" || last["exit_code"] != float64(0) {
		t.Errorf("last line of the file: %v", last)
	}
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, %v", fi.Mode(), err)
	}
	// A second run appends.
	run(context.Background(), []string{"s3sync", "--config", s.config, "--log-format", "console", "--log-file", logPath, "report"},
		env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
	if data2, _ := os.ReadFile(logPath); !bytes.HasPrefix(data2, data) || len(data2) == len(data) {
		t.Errorf("the second run did not append")
	}
	if r := s.run("--log-file", filepath.Join(s.dir, "no", "such", "dir", "x.log"), "report"); r.code != exitUsage || !strings.Contains(r.stderr, "--log-file") {
		t.Errorf("an unwritable log file: %s", r)
	}
}
