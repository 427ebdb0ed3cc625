package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage/s3test"
)

// binary is the s3sync binary built once for tests that need a real process (signals, kills).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "s3sync-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "s3sync")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building s3sync:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is one test's Mastodon database, source and destination buckets, config file and
// checkpoint, on the real test services.
type sandbox struct {
	t          *testing.T
	db         *pgtest.Database
	s3         *s3test.Server
	src, dst   string // bucket names
	srcURL     string // source endpoint in the config (the server, or a fault proxy)
	dstURL     string // destination endpoint in the config
	retries    int    // [sync] retries
	dir        string
	config     string
	checkpoint string
	extra      string // extra config lines for [sync]
	// srcS3 and dstS3 are the servers of the source and destination buckets when they differ
	// (newSandboxBetween); nil means s3.
	srcS3, dstS3 *s3test.Server
}

func newSandbox(t *testing.T, schema string) *sandbox {
	t.Helper()
	srv := s3test.New(t)
	return newSandboxBetween(t, schema, srv, srv)
}

// newSandboxBetween is newSandbox with the source bucket on server src and the destination
// bucket on server dst, each with its own credentials in the config. s3 is src, so the
// helpers that fill or proxy the source (upload, slowSource) work unchanged; dstServer names
// the destination's server.
func newSandboxBetween(t *testing.T, schema string, src, dst *s3test.Server) *sandbox {
	t.Helper()
	s := &sandbox{t: t, s3: src, dir: t.TempDir()}
	if src != dst {
		s.srcS3, s.dstS3 = src, dst
	}
	s.db = pgtest.NewDatabase(t, pgtest.Schema(schema))
	s.src = src.NewBucket(t, "src")
	s.dst = dst.NewBucket(t, "dst")
	s.srcURL, s.dstURL, s.retries = src.Endpoint, dst.Endpoint, 2
	s.config = filepath.Join(s.dir, "config.ini")
	s.checkpoint = filepath.Join(s.dir, "s3sync.db")
	s.writeConfig()
	return s
}

// srcServer is the server of the source bucket.
func (s *sandbox) srcServer() *s3test.Server {
	if s.srcS3 != nil {
		return s.srcS3
	}
	return s.s3
}

// dstServer is the server of the destination bucket.
func (s *sandbox) dstServer() *s3test.Server {
	if s.dstS3 != nil {
		return s.dstS3
	}
	return s.s3
}

// writeConfig (re)writes the sandbox's config file from its fields.
func (s *sandbox) writeConfig() {
	s.t.Helper()
	db := s.db.Config
	text := fmt.Sprintf(`[s3.source]
access_key = %[1]s
secret_key = %[2]s
endpoint_url = %[3]s
bucket = %[4]s
region = us-east-1
path_style = true

[s3.destination]
access_key = %[15]s
secret_key = %[16]s
endpoint_url = %[5]s
bucket = %[6]s
region = us-east-1
path_style = true

[pg.database]
host = %[7]s
port = %[8]d
user = %[9]s
password = %[10]s
database = %[11]s
sslmode = disable

[sync]
checkpoint = %[12]s
concurrency = 4
retries = %[14]d
%[13]s
`, s.srcServer().AccessKey, s.srcServer().SecretKey, s.srcURL, s.src, s.dstURL, s.dst,
		db.Host, db.Port, db.User, db.Password, db.Database, s.checkpoint, s.extra, s.retries,
		s.dstServer().AccessKey, s.dstServer().SecretKey)
	if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// connect opens a connection to the sandbox's database, closed when the test ends.
func (s *sandbox) connect() *pgx.Conn {
	s.t.Helper()
	ctx := context.Background()
	cc, err := s.db.Config.ConnConfig()
	if err != nil {
		s.t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs SQL in the sandbox's database.
func (s *sandbox) exec(sql string, args ...any) {
	s.t.Helper()
	conn := s.connect()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
}

// proxySource puts a FaultProxy in front of the source's server and points the config at it.
func (s *sandbox) proxySource() *s3test.FaultProxy {
	s.t.Helper()
	p := s3test.NewFaultProxy(s.t, s.srcServer().Endpoint)
	s.srcURL = p.URL
	s.writeConfig()
	return p
}

// result is one s3sync run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs s3sync in-process with the sandbox's config.
func (s *sandbox) run(args ...string) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"s3sync", "--config", s.config, "--log-level", "warn"}, args...)
	code := run(context.Background(), full, env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return result{code, out.String(), errb.String()}
}

// must runs s3sync and fails the test unless it exits with want.
func (s *sandbox) must(want int, args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != want {
		s.t.Fatalf("s3sync %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// command prepares the s3sync binary with the sandbox's config, for tests that signal it.
func (s *sandbox) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"--config", s.config, "--log-format", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir}
	return cmd
}

// start starts the s3sync binary with the sandbox's config, its stderr going to the returned
// buffer; the process is killed when the test ends.
func (s *sandbox) start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	s.t.Helper()
	cmd := s.command(args...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stderr
}

// counts opens the checkpoint read-only and returns objects per status over all kinds.
func (s *sandbox) counts() map[checkpoint.Status]int64 {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	counts, err := db.Counts()
	if err != nil {
		s.t.Fatal(err)
	}
	recount, err := db.Recount()
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[checkpoint.Status]int64{}
	for kind, byStatus := range counts {
		for st, c := range byStatus {
			out[st] += c.Objects
			if recount[kind][st] != c {
				s.t.Errorf("counter %s/%s = %+v, recount %+v", kind, st, c, recount[kind][st])
			}
		}
	}
	return out
}

// object returns one checkpoint object by kind, id, attachment and style.
func (s *sandbox) object(kind string, id int64, attachment, style string) checkpoint.Object {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	o := checkpoint.Object{Kind: kind, RecordID: id, Attachment: attachment, Style: style}
	got, ok, err := db.Get(o.ID())
	if err != nil || !ok {
		s.t.Fatalf("object %s: ok=%v err=%v", o.ID(), ok, err)
	}
	return got
}
