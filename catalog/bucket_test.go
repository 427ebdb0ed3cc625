package catalog_test

import (
	"slices"
	"testing"

	"github.com/s3sync/s3sync/catalog"
)

// The directories Mastodon writes under are its classes' names (Paperclip's :class, the
// pluralized model name, the same in every release), each also under cache/ for remote
// records; written out here by hand.
func TestPrefixes(t *testing.T) {
	want := []string{
		"media_attachments/", "cache/media_attachments/", "accounts/", "cache/accounts/",
		"custom_emojis/", "cache/custom_emojis/", "preview_cards/", "cache/preview_cards/",
		"site_uploads/", "cache/site_uploads/", "preview_card_providers/", "cache/preview_card_providers/",
		"backups/", "cache/backups/",
	}
	got := catalog.Prefixes()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Prefixes() = %q\nwant %q", got, want)
	}
}
