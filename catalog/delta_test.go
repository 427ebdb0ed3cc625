package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
)

// changedIDs runs ScanChanged from since and returns the record ids it read and the next
// watermark.
func changedIDs(t *testing.T, r *catalog.Reader, since catalog.Watermark) ([]int64, catalog.Watermark) {
	t.Helper()
	var ids []int64
	next, err := r.ScanChanged(context.Background(), catalog.PreviewCards, since, 100, func(p catalog.Page) error {
		for _, o := range p.Objects {
			ids = append(ids, o.RecordID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, next
}

// A row committed after a scan with an older <attachment>_updated_at than one the scan saw (its
// transaction began earlier, and Paperclip uploaded the file meanwhile) is read by the next
// ScanChanged, not left behind the watermark.
func TestScanChangedReadsLateCommits(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, `INSERT INTO preview_cards (id, url, image_file_name, image_content_type)
		SELECT i, 'https://news.example/' || i, 'card' || i || '.jpg', 'image/jpeg' FROM generate_series(1, 5) AS i`)
	r := pgtest.Open(t, db.Config)
	wm, err := r.Watermark(context.Background(), catalog.PreviewCards)
	if err != nil {
		t.Fatal(err)
	}
	// B's transaction commits first, stamped now.
	db.Exec(t, `UPDATE preview_cards SET image_file_name = 'b2.jpg', image_updated_at = now() AT TIME ZONE 'UTC' WHERE id = 2`)
	ids, next := changedIDs(t, r, wm)
	if len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("first rescan read %v, want record 2", ids)
	}
	if limit := time.Now().UTC().Add(-catalog.CommitMargin); next.UpdatedAt.After(limit.Add(time.Second)) {
		t.Errorf("watermark %s is not held back by CommitMargin (%s)", next.UpdatedAt, limit)
	}
	// A's transaction began 30 s earlier and commits only now.
	db.Exec(t, `UPDATE preview_cards SET image_file_name = 'a4.jpg', image_updated_at = now() AT TIME ZONE 'UTC' - interval '30 seconds' WHERE id = 4`)
	ids, _ = changedIDs(t, r, next)
	found := false
	for _, id := range ids {
		found = found || id == 4
	}
	if !found {
		t.Errorf("the rescan after A's late commit read %v, not record 4", ids)
	}
}
