package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// planRow returns the plan summary line of kind, split into fields.
func planRow(t *testing.T, out, kind string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == kind {
			return f
		}
	}
	t.Fatalf("no %s line in:\n%s", kind, out)
	return nil
}

// statuses returns the status of each object ID of kind in the checkpoint.
func (s *sandbox) statuses(kind string) map[string]checkpoint.Status {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	out := map[string]checkpoint.Status{}
	err = db.Each(checkpoint.Filter{Kinds: []string{kind}}, func(o checkpoint.Object) error {
		out[o.Candidates[0]] = o.Status
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// Records added, changed (new file name) and deleted between two plans give exactly the
// right pending and stale objects; --changed reads only the new and changed rows; the plan
// prints the Mastodon version.
func TestDeltaPlanAndStale(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO accounts (id, username, avatar_file_name, avatar_content_type, avatar_updated_at)
		SELECT i, 'u' || i, 'a' || i || '.png', 'image/png', '2024-01-01 00:00:00'::timestamp + i * interval '1 minute'
		FROM generate_series(1, 10) AS i`)
	var bodies []sourceObject
	for i := 1; i <= 10; i++ {
		bodies = append(bodies, sourceObject{"accounts/avatars/" + partition(i) + "/original/a" + itoa(i) + ".png", 100, "image/png", "", ""})
	}
	s.upload(bodies...)
	r := s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "Mastodon 4.6 (4.6.0 to 4.6.6 or a later 4.6.x patch release; schema 20260611150940)") {
		t.Errorf("plan does not print the version:\n%s", r.stdout)
	}
	s.must(exitOK, "copy")

	// Between the plans: two new accounts, one new avatar, one account deleted.
	s.exec(`INSERT INTO accounts (id, username, avatar_file_name, avatar_content_type, avatar_updated_at) VALUES
		(11, 'u11', 'a11.png', 'image/png', '2024-02-01'), (12, 'u12', 'a12.png', 'image/png', '2024-02-01')`)
	s.exec(`UPDATE accounts SET avatar_file_name = 'new3.png', avatar_updated_at = '2024-02-02' WHERE id = 3`)
	s.exec(`DELETE FROM accounts WHERE id = 5`)

	r = s.must(exitOK, "plan", "--changed", "--only", "accounts")
	if f := planRow(t, r.stdout, "accounts"); f[1] != "3" || f[3] != "2" {
		t.Errorf("plan --changed read %s record(s), %s new object(s); want 3 and 2:\n%s", f[1], f[3], r.stdout)
	}
	st := s.statuses("accounts")
	want := map[string]checkpoint.Status{
		"accounts/avatars/000/000/003/original/new3.png": checkpoint.Pending,
		"accounts/avatars/000/000/003/original/a3.png":   checkpoint.Stale, // the replaced file, copied before
		"accounts/avatars/000/000/011/original/a11.png":  checkpoint.Pending,
		"accounts/avatars/000/000/012/original/a12.png":  checkpoint.Pending,
		"accounts/avatars/000/000/005/original/a5.png":   checkpoint.Done, // --changed does not see deletions
	}
	for k, w := range want {
		if st[k] != w {
			t.Errorf("%s: %s, want %s", k, st[k], w)
		}
	}
	// A second --changed reads nothing.
	r = s.must(exitOK, "plan", "--changed", "--only", "accounts")
	if f := planRow(t, r.stdout, "accounts"); f[1] != "0" {
		t.Errorf("second plan --changed read %s record(s):\n%s", f[1], r.stdout)
	}
	// A full plan reconciles the deletion.
	r = s.must(exitOK, "plan", "--only", "accounts")
	if !strings.Contains(r.stdout, "stale: 1 object(s)") {
		t.Errorf("full plan summary:\n%s", r.stdout)
	}
	st = s.statuses("accounts")
	if st["accounts/avatars/000/000/005/original/a5.png"] != checkpoint.Stale {
		t.Errorf("deleted account's avatar: %s", st["accounts/avatars/000/000/005/original/a5.png"])
	}
	c := s.counts()
	if c[checkpoint.Stale] != 2 || c[checkpoint.Pending] != 3 || c[checkpoint.Done] != 8 {
		t.Errorf("counts = %v", c)
	}
	r = s.must(exitOK, "report", "--format", "csv", "--status", "stale")
	if !strings.Contains(r.stdout, "a3.png") || !strings.Contains(r.stdout, "a5.png") {
		t.Errorf("report --status stale:\n%s", r.stdout)
	}
	r = s.must(exitOK, "report")
	if !strings.Contains(r.stdout, "STALE") {
		t.Errorf("report table without STALE:\n%s", r.stdout)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Version detection on the 3.x fixture.
func TestPlanVersion3x(t *testing.T) {
	s := newSandbox(t, pgtest.V3Schema)
	r := s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "Mastodon 3.1.0 to 3.1.2 (schema 20200126203551)") {
		t.Errorf("plan on 3.x:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "table not found, skipped") {
		t.Errorf("the kind without table is not noted:\n%s", r.stdout)
	}
}

// plan --skip-remote-cache leaves cached remote media out and says how much; usage splits
// local from remote.
func TestSkipRemoteCacheAndUsage(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	layoutFixture(s)
	r := s.must(exitOK, "plan", "--skip-remote-cache")
	// Remote: media 109… (original, small) and 26 (original, small), accounts 1234567890 and 3, emoji 5 (2), card 6.
	if !strings.Contains(r.stdout, "remote cache skipped: 9 object(s), 3.6 KiB known") {
		t.Errorf("plan --skip-remote-cache summary:\n%s", r.stdout)
	}
	r = s.must(exitOK, "usage", "--no-database")
	if !strings.Contains(r.stdout, "REMOTE CACHE") || !strings.Contains(r.stdout, "media_attachments") {
		t.Errorf("usage:\n%s", r.stdout)
	}
	s.extra = "remote_cache = skip"
	s.writeConfig()
	r = s.must(exitOK, "usage")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "media_attachments") && !strings.Contains(line, " 11 ") {
			t.Errorf("usage records of media_attachments: %q", line)
		}
	}
}

// verify catches a deleted, a truncated and a wrong-content-type destination object, marks
// them failed, and retry-failed repairs them.
func TestVerify(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 20)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	s.must(exitOK, "verify")

	dst, err := storage.New(s.s3.Config(s.dst))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k1 := "preview_cards/images/" + partition(1) + "/original/card1.jpg"
	k2 := "preview_cards/images/" + partition(2) + "/original/card2.jpg"
	k3 := "preview_cards/images/" + partition(3) + "/original/card3.jpg"
	if err := dst.Delete(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if err := dst.Put(ctx, k2, bytes.NewReader([]byte("short")), 5, storage.PutOptions{ContentType: "image/jpeg", CacheControl: "public, max-age=315576000, immutable"}); err != nil {
		t.Fatal(err)
	}
	body, _ := s.s3.GetObject(t, s.dst, k3)
	if err := dst.Put(ctx, k3, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "text/html", CacheControl: "public, max-age=315576000, immutable"}); err != nil {
		t.Fatal(err)
	}
	r := s.must(exitFailed, "verify", "--all")
	for _, want := range []string{"card1.jpg: absent at the destination", "card2.jpg: size 5 at the destination", `card3.jpg: Content-Type "text/html"`, "verified 20 object(s): 17 right, 3 problem(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
	if c := s.counts(); c[checkpoint.Failed] != 3 {
		t.Errorf("counts after verify = %v", c)
	}
	s.must(exitOK, "retry-failed")
	r = s.must(exitOK, "verify", "--sample", "5")
	if !strings.Contains(r.stdout, "verified 5 object(s): 5 right, 0 problem(s)") {
		t.Errorf("verify --sample:\n%s", r.stdout)
	}
	s.must(exitOK, "verify")
}

// orphans lists the keys no record references, and only those.
func TestOrphans(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 5)
	s.upload(
		sourceObject{"preview_cards/images/000/000/099/original/gone.jpg", 10, "image/jpeg", "", ""},     // no such record
		sourceObject{"preview_cards/images/000/000/002/original/old-name.jpg", 20, "image/jpeg", "", ""}, // not the record's file
		sourceObject{"backup.tar.gz", 30, "application/gzip", "", ""},                                    // outside the layout
	)
	r := s.must(exitOK, "orphans")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || lines[0] != "key,size,last_modified,reason" {
		t.Fatalf("orphans:\n%s", r.stdout)
	}
	got := strings.Join(lines[1:], "\n")
	for _, want := range []string{"backup.tar.gz,30,", "not mastodon", "preview_cards/images/000/000/002/original/old-name.jpg,20,", "preview_cards/images/000/000/099/original/gone.jpg,10,"} {
		if !strings.Contains(got, want) {
			t.Errorf("orphans lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(r.stderr, "orphans 3, 60 B") {
		t.Errorf("orphans totals:\n%s", r.stderr)
	}
}

// A throttled listing is retried page by page: orphans finishes, with every orphan once.
func TestOrphansRideOutThrottledListing(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.upload(sourceObject{"backup.tar.gz", 30, "application/gzip", "", ""})
	p := s.proxySource()
	var lists atomic.Int32
	p.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") && lists.Add(1) <= 2 {
			return s3test.Status(503, "SlowDown")
		}
		return s3test.Pass()
	})
	r := s.must(exitOK, "orphans")
	if strings.Count(r.stdout, "backup.tar.gz,30,") != 1 || lists.Load() < 3 {
		t.Errorf("orphans after 2 throttled listings (%d list requests):\n%s%s", lists.Load(), r.stdout, r.stderr)
	}
}

// A source whose size differs from what the database records for an original is not copied:
// copy retries it, then fails it saying both sizes (a source that answers short, with a
// consistent Content-Length, must never become done); once the database is corrected it is
// copied. A done object whose source differs from the database (the database changed after the
// copy, or an s3sync before this check copied it) is copied as the source has it: verify says
// so as a warning, the object stays done and the exit code is 0 (retry-failed could not change
// it). A destination that differs from its source is a problem, whatever the database says.
func TestVerifySourceDiffersFromDatabase(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_file_size) VALUES
		(1, 'https://a.example/', 'a.jpg', 'image/jpeg', 99999), (2, 'https://b.example/', 'b.jpg', 'image/jpeg', 10)`)
	s.upload(sourceObject{"preview_cards/images/000/000/001/original/a.jpg", 10, "image/jpeg", "", ""},
		sourceObject{"preview_cards/images/000/000/002/original/b.jpg", 10, "image/jpeg", "", ""})
	s.must(exitOK, "plan")
	s.must(exitFailed, "copy")
	if a := s.object("preview_cards", 1, "image", "original"); a.Status != checkpoint.Failed ||
		!strings.Contains(a.Error, "the source holds 10 bytes under preview_cards/images/000/000/001/original/a.jpg, but the database records 99999") {
		t.Errorf("a.jpg: %s: %s", a.Status, a.Error)
	}
	s.exec(`UPDATE preview_cards SET image_file_size = 10 WHERE id = 1`)
	s.must(exitOK, "plan")
	s.must(exitOK, "retry-failed")
	s.exec(`UPDATE preview_cards SET image_file_size = 99999 WHERE id = 1`)
	s.must(exitOK, "plan")
	r := s.must(exitOK, "verify")
	for _, want := range []string{
		"warning: preview_cards/images/000/000/001/original/a.jpg: copied as the source has it, but the source holds 10 bytes, the database records 99999",
		"verified 2 object(s): 2 right, 0 problem(s)",
		"1 object(s) differ from what the database records",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
	if c := s.counts(); c[checkpoint.Done] != 2 {
		t.Errorf("counts after verify = %v", c)
	}
	// The destination object now differs from its source: a problem.
	s.s3.PutObject(t, s.dst, "preview_cards/images/000/000/002/original/b.jpg", []byte("0123456789abc"), "image/jpeg", "public, max-age=315576000, immutable")
	r = s.must(exitFailed, "verify")
	if !strings.Contains(r.stdout, "b.jpg: size 13 at the destination, 10 at the source") {
		t.Errorf("verify output:\n%s", r.stdout)
	}
	s.must(exitOK, "retry-failed")
	s.must(exitOK, "verify")
}
