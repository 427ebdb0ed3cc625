package catalog

import (
	"fmt"
	"strings"
)

// Kind names one Mastodon table whose rows reference stored files; its value is the table name.
type Kind string

// The kinds of records s3sync knows, one per Mastodon table.
const (
	MediaAttachments     Kind = "media_attachments"
	Accounts             Kind = "accounts"
	CustomEmojis         Kind = "custom_emojis"
	PreviewCards         Kind = "preview_cards"
	SiteUploads          Kind = "site_uploads"
	PreviewCardProviders Kind = "preview_card_providers"
	Backups              Kind = "backups"
)

// AllKinds lists every kind in the order s3sync plans them: the old tool's four jobs first.
var AllKinds = []Kind{
	MediaAttachments,
	Accounts,
	CustomEmojis,
	PreviewCards,
	SiteUploads,
	PreviewCardProviders,
	Backups,
}

// Table returns the name of the PostgreSQL table that holds the kind's records.
func (k Kind) Table() string { return string(k) }

// Valid reports whether k is one of AllKinds.
func (k Kind) Valid() bool {
	_, ok := specs[k]
	return ok
}

// Attachments returns the names of the kind's attachments ("file", "avatar", ...), nil for an unknown kind.
func (k Kind) Attachments() []string {
	s, ok := specs[k]
	if !ok {
		return nil
	}
	names := make([]string, len(s.attachments))
	for i, a := range s.attachments {
		names[i] = a.name
	}
	return names
}

// ParseKinds parses a comma-separated list of kinds such as "accounts,custom_emojis".
// Blanks around names and empty items are ignored; "" means AllKinds. The result is
// deduplicated and in AllKinds order. An unknown name is an error that names it and
// lists the valid ones.
func ParseKinds(s string) ([]Kind, error) {
	if strings.TrimSpace(s) == "" {
		return append([]Kind(nil), AllKinds...), nil
	}
	want := make(map[Kind]bool)
	for _, item := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(item))
		if name == "" {
			continue
		}
		k := Kind(name)
		if !k.Valid() {
			return nil, fmt.Errorf("unknown kind %q (valid: %s)", strings.TrimSpace(item), kindList())
		}
		want[k] = true
	}
	if len(want) == 0 {
		return append([]Kind(nil), AllKinds...), nil
	}
	kinds := make([]Kind, 0, len(want))
	for _, k := range AllKinds {
		if want[k] {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

func kindList() string {
	names := make([]string, len(AllKinds))
	for i, k := range AllKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
