package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
)

// sourceObject is an object the test stores in the source bucket.
type sourceObject struct {
	key                             string
	size                            int
	contentType, cacheControl, disp string
}

// upload stores objs in the source bucket with random bodies and returns the bodies by key.
func (s *sandbox) upload(objs ...sourceObject) map[string][]byte {
	s.t.Helper()
	c, err := storage.New(s.s3.Config(s.src))
	if err != nil {
		s.t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for _, o := range objs {
		body := make([]byte, o.size)
		rand.Read(body)
		err := c.Put(context.Background(), o.key, bytes.NewReader(body), int64(len(body)),
			storage.PutOptions{ContentType: o.contentType, CacheControl: o.cacheControl, ContentDisposition: o.disp})
		if err != nil {
			s.t.Fatalf("upload %s: %v", o.key, err)
		}
		bodies[o.key] = body
	}
	return bodies
}

// assertCopied checks that the destination holds exactly the given objects, byte for byte.
func (s *sandbox) assertCopied(want map[string][]byte) {
	s.t.Helper()
	got := s.dstServer().Keys(s.t, s.dst)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(keys, "\n") {
		s.t.Fatalf("destination keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(keys, "\n"))
	}
	for _, k := range keys {
		body, _ := s.dstServer().GetObject(s.t, s.dst, k)
		if !bytes.Equal(body, want[k]) {
			s.t.Errorf("%s: destination body differs (%d bytes, want %d)", k, len(body), len(want[k]))
		}
	}
}

// layoutFixture inserts records covering every layout rule and uploads their objects, except
// the two of record 27 (missing), with record 26's stored under the cache/ flip (drift) and
// account 1234567890's avatar under the 9-digit partition of Mastodon 3.4 and older. It
// returns the bodies by the key the copy writes them to: the key Mastodon asks for.
func layoutFixture(s *sandbox) map[string][]byte {
	s.exec(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, file_file_size, remote_url, file_storage_schema_version, file_meta,
	                                        thumbnail_file_name, thumbnail_content_type, thumbnail_storage_schema_version) VALUES
		(7, 0, 'a.jpg', 'image/jpeg', 1000, '', 1, NULL, NULL, NULL, NULL),
		(109999999999999999, 2, 'v.mp4', 'video/mp4', 3000, 'https://remote.example/v.mp4', 1, NULL, NULL, NULL, NULL),
		(12345678901234567, 1, 'g.mp4', 'video/mp4', 2000, '', NULL, NULL, NULL, NULL, NULL),
		(20, 4, 's.mp3', 'audio/mpeg', 4000, '', 1, NULL, 't.jpg', 'image/jpeg', 1),
		(21, 0, NULL, NULL, NULL, '', 1, NULL, NULL, NULL, NULL),
		(22, 0, '', NULL, NULL, '', 1, NULL, NULL, NULL, NULL),
		(23, 0, 'ünïcode file name.jpg', 'image/jpeg', 500, '', 1, NULL, NULL, NULL, NULL),
		(24, 4, 'zero.mp3', 'audio/mpeg', 0, '', 1, '{"original":{"width":1}}', NULL, NULL, NULL),
		(25, 2, 'big.mp4', 'video/mp4', 20971520, '', 1, NULL, NULL, NULL, NULL),
		(26, 0, 'drift.jpg', 'image/jpeg', 700, 'https://remote.example/d.jpg', 1, NULL, NULL, NULL, NULL),
		(27, 0, 'gone.jpg', 'image/jpeg', 800, '', 1, NULL, NULL, NULL, NULL)`)
	s.exec(`INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, header_file_name, header_content_type,
	                               avatar_storage_schema_version, header_storage_schema_version) VALUES
		(1, 'local', NULL, 'av.gif', 'image/gif', 'h.jpg', 'image/jpeg', 1, 1),
		(1234567890, 'old', 'x.example', 'r.png', 'image/png', NULL, NULL, 0, 0),
		(3, 'cached', 'y.example', 'c.png', 'image/png', NULL, NULL, 1, 1)`)
	s.exec(`INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type, image_storage_schema_version)
		VALUES (5, 'blob', 'z.example', 'e.png', 'image/png', 1)`)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_storage_schema_version)
		VALUES (6, 'https://news.example/1', 'p.jpg', 'image/jpeg', 1)`)

	const cc = "public, max-age=60"
	bodies := s.upload(
		sourceObject{"media_attachments/files/000/000/007/original/a.jpg", 1000, "image/jpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/007/small/a.jpg", 300, "image/jpeg", cc, ""},
		sourceObject{"cache/media_attachments/files/109/999/999/999/999/999/original/v.mp4", 3000, "video/mp4", cc, ""},
		sourceObject{"cache/media_attachments/files/109/999/999/999/999/999/small/v.png", 200, "image/png", cc, ""},
		sourceObject{"media_attachments/files/123/456/789/012/345/original/g.mp4", 2000, "video/mp4", cc, ""},
		sourceObject{"media_attachments/files/123/456/789/012/345/small/g.png", 100, "image/png", cc, ""},
		sourceObject{"media_attachments/files/000/000/020/original/s.mp3", 4000, "audio/mpeg", cc, `attachment; filename="s.mp3"`},
		sourceObject{"media_attachments/thumbnails/000/000/020/original/t.jpg", 150, "image/jpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/023/original/ünïcode file name.jpg", 500, "image/jpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/023/small/ünïcode file name.jpg", 120, "image/jpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/024/original/zero.mp3", 0, "audio/mpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/025/original/big.mp4", 20 << 20, "video/mp4", "", ""},
		sourceObject{"media_attachments/files/000/000/025/small/big.png", 400, "image/png", cc, ""},
		sourceObject{"media_attachments/files/000/000/026/original/drift.jpg", 700, "image/jpeg", cc, ""},
		sourceObject{"media_attachments/files/000/000/026/small/drift.jpg", 70, "image/jpeg", cc, ""},
		sourceObject{"accounts/avatars/000/000/001/original/av.gif", 900, "image/gif", cc, ""},
		sourceObject{"accounts/avatars/000/000/001/static/av.png", 90, "image/png", cc, ""},
		sourceObject{"accounts/headers/000/000/001/original/h.jpg", 800, "image/jpeg", cc, ""},
		sourceObject{"accounts/avatars/123/456/789/original/r.png", 600, "image/png", cc, ""},
		sourceObject{"cache/accounts/avatars/000/000/003/original/c.png", 650, "image/png", cc, ""},
		sourceObject{"cache/custom_emojis/images/000/000/005/original/e.png", 50, "image/png", cc, ""},
		sourceObject{"cache/custom_emojis/images/000/000/005/static/e.png", 40, "image/png", cc, ""},
		sourceObject{"cache/preview_cards/images/000/000/006/original/p.jpg", 330, "image/jpeg", cc, ""},
	)
	for from, to := range map[string]string{
		"media_attachments/files/000/000/026/original/drift.jpg": "cache/media_attachments/files/000/000/026/original/drift.jpg",
		"media_attachments/files/000/000/026/small/drift.jpg":    "cache/media_attachments/files/000/000/026/small/drift.jpg",
		"accounts/avatars/123/456/789/original/r.png":            "accounts/avatars/001/234/567/890/original/r.png",
	} {
		bodies[to] = bodies[from]
		delete(bodies, from)
	}
	return bodies
}

// assertLayoutMetadata checks the headers layoutFixture's copies must keep: Content-Type and
// Cache-Control kept, Mastodon's Cache-Control when the source had none, Content-Disposition
// kept; and that no multipart upload is left at the destination.
func (s *sandbox) assertLayoutMetadata() {
	s.t.Helper()
	dst := s.dstServer()
	_, info := dst.GetObject(s.t, s.dst, "media_attachments/files/000/000/020/original/s.mp3")
	if info.ContentType != "audio/mpeg" || info.CacheControl != "public, max-age=60" || info.ContentDisposition != `attachment; filename="s.mp3"` {
		s.t.Errorf("s.mp3 metadata %+v", info)
	}
	_, info = dst.GetObject(s.t, s.dst, "media_attachments/files/000/000/025/original/big.mp4")
	if info.CacheControl != "public, max-age=315576000, immutable" || info.ContentType != "video/mp4" || info.Size != 20<<20 {
		s.t.Errorf("big.mp4 metadata %+v", info)
	}
	if n := dst.ListMultipartUploads(s.t, s.dst); n != 0 {
		s.t.Errorf("%d multipart uploads left behind", n)
	}
}

// The whole pipeline over every layout rule: plan, copy, report; metadata preserved.
func TestPlanCopyReportLayout(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := layoutFixture(s)

	r := s.must(exitOK, "plan")
	for _, want := range []string{"media_attachments", "accounts", "total", "next: s3sync copy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	if c := s.counts(); c[checkpoint.Pending] != 25 {
		t.Fatalf("planned %v, want 25 pending", c)
	}
	// Re-running merges: nothing new.
	r = s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "total  ") || s.counts()[checkpoint.Pending] != 25 {
		t.Fatalf("re-plan changed the checkpoint:\n%s", r.stdout)
	}

	r = s.must(exitOK, "copy")
	if !strings.Contains(r.stdout, "copied 23 object(s)") || !strings.Contains(r.stdout, "missing 2") {
		t.Errorf("copy summary:\n%s", r.stdout)
	}
	s.assertCopied(bodies)
	c := s.counts()
	if c[checkpoint.Done] != 23 || c[checkpoint.Missing] != 2 || c[checkpoint.Pending] != 0 || c[checkpoint.Failed] != 0 {
		t.Errorf("counts %v", c)
	}

	// The drifted object was found under its fallback candidate and written where Mastodon
	// asks for it (the first candidate).
	drift := s.object("media_attachments", 26, "file", "original")
	if drift.SourceKey != "media_attachments/files/000/000/026/original/drift.jpg" || drift.Candidates[0] != "cache/"+drift.SourceKey {
		t.Errorf("drift: source key %q candidates %q", drift.SourceKey, drift.Candidates)
	}
	gone := s.object("media_attachments", 27, "file", "original")
	if gone.Status != checkpoint.Missing || !strings.Contains(gone.Error, "not found at the source") {
		t.Errorf("gone: %+v", gone)
	}

	s.assertLayoutMetadata()

	// report: table, csv, json.
	r = s.must(exitOK, "report")
	for _, want := range []string{"media_attachments", "23 (", "MISSING", "total"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	r = s.must(exitOK, "report", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "kind,record_id,attachment,style,key,status,attempts,bytes,error,updated_at" || len(rows) != 3 {
		t.Fatalf("csv:\n%s", r.stdout)
	}
	if rows[1][0] != "media_attachments" || rows[1][1] != "27" || rows[1][5] != "missing" || rows[1][4] != "media_attachments/files/000/000/027/original/gone.jpg" {
		t.Errorf("csv row %q", rows[1])
	}
	out := filepath.Join(t.TempDir(), "done.json")
	s.must(exitOK, "report", "--format", "json", "--status", "done", "--only", "accounts", "--output", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []engine.Row
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("json: %v\n%s", err, data)
	}
	if len(got) != 5 {
		t.Fatalf("json rows %d, want 5 done accounts objects:\n%s", len(got), data)
	}
	for _, row := range got {
		if row.Kind != "accounts" || row.Status != "done" || row.Bytes <= 0 || row.Attempts != 1 {
			t.Errorf("json row %+v", row)
		}
	}
	s.must(exitUsage, "report", "--status", "lost")
	s.must(exitUsage, "report", "--format", "xml")
}

// Mastodon 3.x has no storage schema versions: nothing goes under cache/, and plan copes.
func TestMastodon3x(t *testing.T) {
	s := newSandbox(t, pgtest.V3Schema)
	s.exec(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, remote_url) VALUES
		(1, 0, 'a.png', 'image/png', 'https://remote.example/a.png')`)
	s.exec(`INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type) VALUES (2, 'r', 'x.example', 'b.png', 'image/png')`)
	bodies := s.upload(
		sourceObject{"media_attachments/files/000/000/001/original/a.png", 10, "image/png", "", ""},
		sourceObject{"media_attachments/files/000/000/001/small/a.png", 5, "image/png", "", ""},
		sourceObject{"accounts/avatars/000/000/002/original/b.png", 7, "image/png", "", ""},
	)
	r := s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "table not found") {
		t.Errorf("plan should report the missing preview_card_providers table:\n%s", r.stdout)
	}
	s.must(exitOK, "copy")
	s.assertCopied(bodies)
}

// copy refuses to start over earlier progress without --resume, naming the command to run;
// --dry-run lists pending objects and leaves the checkpoint untouched.
func TestCopyNeedsResumeAndDryRun(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES
		(1, 'https://a.example', 'a.jpg', 'image/jpeg'), (2, 'https://b.example', 'b.jpg', 'image/jpeg')`)
	s.upload(sourceObject{"preview_cards/images/000/000/001/original/a.jpg", 10, "image/jpeg", "", ""},
		sourceObject{"preview_cards/images/000/000/002/original/b.jpg", 10, "image/jpeg", "", ""})
	s.must(exitOK, "plan")

	before, _ := os.ReadFile(s.checkpoint)
	r := s.must(exitOK, "copy", "--dry-run")
	if !strings.Contains(r.stdout, "preview_cards/images/000/000/002/original/b.jpg") || !strings.Contains(r.stdout, "would copy 2 object(s)") {
		t.Errorf("dry run:\n%s", r.stdout)
	}
	after, _ := os.ReadFile(s.checkpoint)
	if !bytes.Equal(before, after) {
		t.Error("--dry-run changed the checkpoint")
	}
	if keys := s.s3.Keys(t, s.dst); len(keys) != 0 {
		t.Errorf("--dry-run wrote %q", keys)
	}

	s.must(exitOK, "copy", "--limit", "1")
	r = s.must(exitUsage, "copy")
	if !strings.Contains(r.stderr, "already holds progress") || !strings.Contains(r.stderr, "Try: s3sync --config "+s.config+" --log-level warn copy --resume") {
		t.Errorf("refusal:\n%s", r.stderr)
	}
	s.must(exitOK, "copy", "--resume")
	if c := s.counts(); c[checkpoint.Done] != 2 {
		t.Errorf("counts %v", c)
	}

	// A checkpoint belongs to its buckets.
	s.dst = s.s3.NewBucket(t, "other")
	s.writeConfig()
	r = s.must(exitUsage, "copy", "--resume")
	if !strings.Contains(r.stderr, "was planned for destination") {
		t.Errorf("location check:\n%s", r.stderr)
	}
}

// Unreachable services end with exit 1 and a one-line cause.
func TestUnreachableServices(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	good, goodPassword := s.db.Config.Port, s.db.Config.Password
	s.db.Config.Port, s.db.Config.Password = freePort(t), "Very-Secret-PG-Password"
	s.writeConfig()
	r := s.must(exitError, "plan")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "Error:") {
		t.Errorf("plan with the database down:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, s.db.Config.Password) {
		t.Error("password in the error")
	}
	s.db.Config.Port, s.db.Config.Password = good, goodPassword
	s.writeConfig()
	s.must(exitOK, "plan")

	s.srcURL = "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	s.writeConfig()
	// The checkpoint was planned for the real source; a different endpoint is refused first…
	s.must(exitUsage, "copy")
	// …so use a fresh checkpoint for the unreachable one.
	s.checkpoint = filepath.Join(s.dir, "other.db")
	s.writeConfig()
	s.must(exitOK, "plan")
	r = s.must(exitError, "copy")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "Error:") || !strings.Contains(lines[0], s.src) {
		t.Errorf("copy with S3 down:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, s.s3.SecretKey) {
		t.Error("secret in the error")
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// copy and report before any plan say so (exit 2) and create nothing.
func TestCopyBeforePlan(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	for _, args := range [][]string{{"copy"}, {"report"}, {"retry-failed"}} {
		r := s.must(exitUsage, args...)
		if !strings.Contains(r.stderr, "does not exist yet") || !strings.Contains(r.stderr, "Try: s3sync plan") {
			t.Errorf("%s: %s", args, r)
		}
	}
	if _, err := os.Stat(s.checkpoint); !os.IsNotExist(err) {
		t.Errorf("a checkpoint was created: %v", err)
	}
}
