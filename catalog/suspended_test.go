package catalog_test

import (
	"context"
	"testing"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
)

// Objects of a suspended account (its avatar and header, media with its account_id) are
// Suspended; the rest, and media without an account, are not. Lookup's aliased query works too.
func TestScanSuspended(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, `
INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, suspended_at) VALUES
 (1, 'alice', NULL, 'a.png', 'image/png', NULL),
 (3, 'carol', NULL, 'c.png', 'image/png', now());
INSERT INTO media_attachments (id, account_id, file_file_name, file_content_type, remote_url, type, file_meta) VALUES
 (1, 1, 'a.jpg', 'image/jpeg', '', 0, '{"original":{}}'),
 (2, 3, 'c.jpg', 'image/jpeg', '', 0, '{"original":{}}'),
 (3, NULL, 'n.jpg', 'image/jpeg', '', 0, '{"original":{}}');`)
	r := pgtest.Open(t, db.Config)
	want := map[catalog.Kind]map[int64]bool{
		catalog.Accounts:         {1: false, 3: true},
		catalog.MediaAttachments: {1: false, 2: true, 3: false},
	}
	for kind, byID := range want {
		n := 0
		for _, p := range pgtest.ScanAll(t, r, kind, catalog.ScanOptions{}) {
			for _, o := range p.Objects {
				n++
				if o.Suspended != byID[o.RecordID] {
					t.Errorf("%s %d %s: Suspended = %v, want %v", kind, o.RecordID, o.Style, o.Suspended, byID[o.RecordID])
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no objects", kind)
		}
		if _, err := r.Lookup(context.Background(), kind, []int64{1}, []int64{3}); err != nil {
			t.Errorf("lookup %s: %v", kind, err)
		}
	}
}
