package main

import (
	"strings"
	"testing"

	"github.com/s3sync/s3sync/catalog/pgtest"
)

// Missing cached remote media: report prints the tootctl lines for media of a status and for
// accounts, counts and lists the media of no status apart (tootctl cannot reach them by
// status), says that a re-fetched file gets a new name (plan again) and names the domains
// whose media Mastodon rejects.
func TestReportRefetchHints(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, remote_url, file_storage_schema_version, status_id) VALUES
		(40, 2, 'v.mp4', 'video/mp4', 'https://far.example/v.mp4', 1, 100),
		(41, 0, 'a.jpg', 'image/jpeg', 'https://far.example/a.jpg', 1, NULL),
		(42, 0, 'local.jpg', 'image/jpeg', '', 1, NULL)`)
	s.exec(`INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, avatar_storage_schema_version) VALUES
		(7, 'far', 'far.example', 'av.png', 'image/png', 1)`)
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	r := s.must(exitOK, "report")
	for _, line := range []string{
		"5 missing object(s) are cached remote media Mastodon can fetch again from their origin:",
		"  media_attachments: 2 object(s) of 1 record(s)",
		"  accounts: 1 object(s) of 1 record(s)",
		"  media_attachments of no status: 2 object(s) of 1 record(s), out of reach of tootctl media refresh --status",
		`psql -Atc "SELECT DISTINCT status_id FROM media_attachments WHERE id IN (40) AND status_id IS NOT NULL" | xargs -rn1 tootctl media refresh --force --status`,
		`psql -Atc "SELECT username || '@' || domain FROM accounts WHERE id IN (7) AND domain IS NOT NULL" | xargs -rn1 tootctl accounts refresh`,
		"\n  41\n",
		"under a new file name: afterwards run `s3sync plan`, then `s3sync copy --resume`",
		`psql -Atc "SELECT domain FROM domain_blocks WHERE reject_media"`,
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "(41,") || strings.Contains(r.stdout, "42") {
		t.Errorf("media of no status, or local media, in a tootctl line:\n%s", r.stdout)
	}
}
