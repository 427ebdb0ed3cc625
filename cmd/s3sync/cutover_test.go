package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
)

// The README's "Cutover in minutes", end to end: a bulk copy while Mastodon keeps adding and
// replacing media, then (Mastodon stopped) plan --changed, copy --resume, verify with zero
// problems, and every referenced object at the destination.
func TestCutoverSequence(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 40)

	// 1. Bulk copy, while the server runs.
	cmd, stderr := s.startSlowCopy(20*time.Millisecond, 5)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_updated_at)
		SELECT i, 'https://news.example/' || i, 'card' || i || '.jpg', 'image/jpeg', now() FROM generate_series(41, 45) AS i`)
	var added []sourceObject
	for id := 41; id <= 45; id++ {
		added = append(added, sourceObject{fmt.Sprintf("preview_cards/images/%s/original/card%d.jpg", partition(id), id), 2048, "image/jpeg", "", ""})
	}
	added = append(added, sourceObject{"preview_cards/images/" + partition(2) + "/original/fresh2.jpg", 4096, "image/jpeg", "", ""})
	for k, b := range s.upload(added...) {
		bodies[k] = b
	}
	s.exec(`UPDATE preview_cards SET image_file_name = 'fresh2.jpg', image_updated_at = now() + interval '1 second' WHERE id = 2`)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bulk copy: %v\n%s", err, stderr)
	}

	// 2. Mastodon stopped: only what changed.
	r := s.must(exitOK, "plan", "--changed")
	if f := planRow(t, r.stdout, "preview_cards"); f[1] != "6" || f[3] != "5" {
		t.Errorf("plan --changed: %v\n%s", f, r.stdout)
	}
	s.must(exitOK, "copy", "--resume")
	r = s.must(exitOK, "verify")
	if !strings.Contains(r.stdout, "verified 45 object(s): 45 right, 0 problem(s)") {
		t.Errorf("verify:\n%s", r.stdout)
	}
	c := s.counts()
	if c[checkpoint.Done] != 45 || c[checkpoint.Pending] != 0 || c[checkpoint.Failed] != 0 {
		t.Errorf("counts = %v", c)
	}
	// Every referenced object is at the destination byte for byte (the replaced card2.jpg too,
	// when the bulk copy had taken it: it is then listed as stale).
	if c[checkpoint.Stale] == 0 {
		delete(bodies, "preview_cards/images/"+partition(2)+"/original/card2.jpg")
	}
	s.assertCopied(bodies)
}
