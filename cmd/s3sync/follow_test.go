package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/testio"
)

// passes returns the number of the last pass a `copy --follow` logged (JSON lines), -1 before
// the first.
func passes(log string) int {
	last := -1
	for _, line := range strings.Split(log, "\n") {
		var ev struct {
			Message string `json:"message"`
			Pass    *int   `json:"pass"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Pass != nil && (ev.Message == "following" || ev.Message == "final pass") {
			last = *ev.Pass
		}
	}
	return last
}

// cardImageKey is the key of preview card id's image file name.
func cardImageKey(id int, name string) string {
	return fmt.Sprintf("preview_cards/images/%s/original/%s", partition(id), name)
}

// addCard inserts preview card id with image file name name.
func (s *sandbox) addCard(id int, name string) {
	s.t.Helper()
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES ($1, $2, $3, 'image/jpeg')`, id, fmt.Sprintf("https://news.example/%d", id), name)
}

// The zero-downtime cutover of the README, driven end to end on the real services: a bulk copy
// that follows; records and files Mastodon adds at the source while it follows, a replaced
// file, a record whose file is not at the source yet; a kill while following and a resume;
// the switch, after which Mastodon writes new uploads only to the destination, and writes
// there a newer version of a file the source also holds; a final pass that finds a file
// replaced while s3sync was down. At the end every object of every record is at the
// destination and identical, nothing Mastodon wrote at the destination was overwritten,
// report counts what was found there, and verify exits 0.
// It runs twice: copying inside the provider (CopyObject), and streaming through s3sync.
func TestFollowCutover(t *testing.T) {
	for _, mode := range []string{"always", "never"} {
		t.Run("server-side="+mode, func(t *testing.T) { followCutover(t, mode) })
	}
}

func followCutover(t *testing.T, serverSide string) {
	s := newSandbox(t, pgtest.ModernSchema)
	want := manyObjects(s, 40) // cards 1–40, at the source
	s.must(exitOK, "plan")

	// 1. Bulk copy, following.
	cmd := s.command("copy", "--follow", "--interval", "300ms", "--rescan-every", "2s", "--concurrency", "4", "--server-side", serverSide)
	logs := new(testio.Buffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("copy --follow's log:\n%s", logs.String())
		}
	})
	atDestination := func(keys ...string) func() bool {
		return func() bool {
			have := map[string]bool{}
			for _, k := range s.dstServer().Keys(t, s.dst) {
				have[k] = true
			}
			for _, k := range keys {
				if !have[k] {
					return false
				}
			}
			return true
		}
	}
	var all []string
	for k := range want {
		all = append(all, k)
	}
	waitFor(t, "the bulk copy", time.Minute, atDestination(all...))
	waitFor(t, "the first pass", time.Minute, func() bool { return passes(logs.String()) >= 1 })

	// 2. Mastodon adds records and files while s3sync follows.
	var added []string
	for id := 41; id <= 45; id++ {
		name := fmt.Sprintf("new%d.jpg", id)
		for k, v := range s.upload(sourceObject{cardImageKey(id, name), 2000 + id, "image/jpeg", "", ""}) {
			want[k] = v
			added = append(added, k)
		}
		s.addCard(id, name)
	}
	waitFor(t, "the new records' files", time.Minute, atDestination(added...))

	// 3. A replaced file (a new file name and image_updated_at): found by the rescan.
	replaced := s.upload(sourceObject{cardImageKey(5, "card5-v2.jpg"), 3000, "image/jpeg", "", ""})
	s.exec(`UPDATE preview_cards SET image_file_name = 'card5-v2.jpg', image_updated_at = now() WHERE id = 5`)
	for k, v := range replaced {
		want[k] = v
		waitFor(t, "the replaced file", time.Minute, atDestination(k))
	}

	// 4. A record whose file is not at the source yet (Mastodon still processing it): it is
	// looked for again in later passes, not given up as missing.
	s.addCard(46, "late46.jpg")
	seen := passes(logs.String())
	waitFor(t, "two passes over the late record", time.Minute, func() bool { return passes(logs.String()) >= seen+2 })
	late := s.upload(sourceObject{cardImageKey(46, "late46.jpg"), 1500, "image/jpeg", "", ""})
	for k, v := range late {
		want[k] = v
		waitFor(t, "the late file", time.Minute, atDestination(k))
	}

	// 5. Killed while following.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("killed after pass %d", passes(logs.String()))

	// 6. The switch: Mastodon writes new uploads to the destination only.
	mastodon := map[string][]byte{}
	for id := 47; id <= 49; id++ {
		name := fmt.Sprintf("after%d.jpg", id)
		body := bytes.Repeat([]byte{byte(id)}, 1800)
		s.dstServer().PutObject(t, s.dst, cardImageKey(id, name), body, "image/jpeg", "")
		mastodon[cardImageKey(id, name)] = body
		s.addCard(id, name)
	}
	// A file the source holds an older version of, which Mastodon wrote again at the
	// destination after the switch: s3sync must keep the destination's.
	older := s.upload(sourceObject{cardImageKey(50, "both50.jpg"), 2500, "image/jpeg", "", ""})
	time.Sleep(1100 * time.Millisecond) // LastModified has a resolution of one second
	newer := bytes.Repeat([]byte("mastodon"), 400)
	s.dstServer().PutObject(t, s.dst, cardImageKey(50, "both50.jpg"), newer, "image/jpeg", "")
	mastodon[cardImageKey(50, "both50.jpg")] = newer
	s.addCard(50, "both50.jpg")
	if bytes.Equal(older[cardImageKey(50, "both50.jpg")], newer) {
		t.Fatal("the two versions must differ")
	}
	// A file replaced while s3sync was down: only a rescan finds it, and the final pass is one.
	replacedLate := s.upload(sourceObject{cardImageKey(7, "card7-v2.jpg"), 3100, "image/jpeg", "", ""})
	s.exec(`UPDATE preview_cards SET image_file_name = 'card7-v2.jpg', image_updated_at = now() WHERE id = 7`)
	for k, v := range replacedLate {
		want[k] = v
	}

	// 7. Resume, follow a little longer, stop after the final pass.
	r := s.must(exitOK, "copy", "--resume", "--follow", "--interval", "300ms", "--until", "3s", "--server-side", serverSide)
	if !strings.Contains(r.stdout, "already at the destination") {
		t.Errorf("copy's table does not count the objects found at the destination:\n%s", r.stdout)
	}

	// Every object of every record is at the destination, byte for byte; Mastodon's own
	// writes are untouched.
	for k, v := range mastodon {
		want[k] = v
	}
	for k, v := range want {
		body, _ := s.dstServer().GetObject(t, s.dst, k)
		if !bytes.Equal(body, v) {
			t.Errorf("%s: destination holds %d bytes, want %d", k, len(body), len(v))
		}
	}
	c := s.counts()
	if c[checkpoint.Pending] != 0 || c[checkpoint.Missing] != 0 || c[checkpoint.Failed] != 0 {
		t.Errorf("counts %v: want everything done (or stale)", c)
	}
	for id := 47; id <= 50; id++ {
		o := s.object("preview_cards", int64(id), "image", "original")
		if o.Status != checkpoint.Done || !o.Found {
			t.Errorf("card %d: %s found=%v (%s), want done and found at the destination", id, o.Status, o.Found, o.Error)
		}
	}
	if o := s.object("preview_cards", 46, "image", "original"); o.Status != checkpoint.Done || o.Found || o.Attempts < 2 {
		t.Errorf("late card: %s found=%v after %d attempt(s); want copied after more than one look", o.Status, o.Found, o.Attempts)
	}
	r = s.must(exitOK, "report")
	if !strings.Contains(r.stdout, "4 done object(s) were already at the destination") {
		t.Errorf("report:\n%s", r.stdout)
	}
	s.must(exitOK, "verify")
}

// --follow's flags are refused where they make no sense.
func TestFollowFlagErrors(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 2)
	s.must(exitOK, "plan")
	for _, args := range [][]string{
		{"copy", "--follow", "--dry-run"},
		{"copy", "--follow", "--limit", "5"},
		{"copy", "--follow", "--interval", "10ms"},
		{"copy", "--follow", "--interval", "25h"},
		{"copy", "--until", "1h"},
		{"copy", "--interval", "5s"},
	} {
		r := s.run(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "Error:") {
			t.Errorf("s3sync %s: %s", strings.Join(args, " "), r)
		}
	}
}

// After following, what verify flags is what retry-failed repairs: an object s3sync copied
// itself, damaged at the destination since, is copied again, not kept as "Mastodon's newer
// version".
func TestRetryFailedRepairsAfterFollow(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 5)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy", "--follow", "--interval", "200ms", "--until", "1s")
	damaged := cardImageKey(2, "card2.jpg")
	s.dstServer().PutObject(t, s.dst, damaged, []byte("bad"), "image/jpeg", "")
	if r := s.run("verify"); r.code != exitFailed {
		t.Fatalf("verify after the damage: %s", r)
	}
	r := s.must(exitOK, "retry-failed")
	if strings.Contains(r.stdout, "already at the destination") {
		t.Errorf("retry-failed kept the damaged object as Mastodon's:\n%s", r.stdout)
	}
	if body, _ := s.dstServer().GetObject(t, s.dst, damaged); !bytes.Equal(body, bodies[damaged]) {
		t.Errorf("%s: %d bytes at the destination, want the source's %d", damaged, len(body), len(bodies[damaged]))
	}
	s.must(exitOK, "verify")
}

// Following a copy that has finished (nothing pending) still copies inside the provider when
// it can: the probe uses an object already copied.
func TestFollowAfterACopyProbesServerSide(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	r := s.must(exitOK, "copy", "--resume", "--follow", "--interval", "200ms", "--until", "500ms")
	if !strings.Contains(r.stdout, "mode: server-side") {
		t.Errorf("copy --resume --follow with nothing pending:\n%s", r.stdout)
	}
}

// Each shard follows its own objects: records added after the sharded plans reach the
// destination through exactly one shard's follow.
func TestFollowSharded(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	want := manyObjects(s, 10)
	for _, sh := range []string{"0/2", "1/2"} {
		s.must(exitOK, "plan", "--shard", sh)
	}
	for id := 11; id <= 20; id++ {
		name := fmt.Sprintf("late%d.jpg", id)
		for k, v := range s.upload(sourceObject{cardImageKey(id, name), 1000 + id, "image/jpeg", "", ""}) {
			want[k] = v
		}
		s.addCard(id, name)
	}
	copied := 0
	for _, sh := range []string{"0/2", "1/2"} {
		r := s.must(exitOK, "copy", "--shard", sh, "--follow", "--interval", "200ms", "--until", "1s")
		var n int
		fmt.Sscanf(r.stdout, "copied %d object(s)", &n)
		copied += n
	}
	if copied != len(want) {
		t.Errorf("the two shards copied %d objects, want each of the %d once", copied, len(want))
	}
	for k, v := range want {
		if body, _ := s.dstServer().GetObject(t, s.dst, k); !bytes.Equal(body, v) {
			t.Errorf("%s: %d bytes at the destination, want %d", k, len(body), len(v))
		}
	}
}
