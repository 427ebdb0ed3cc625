package catalog

import (
	"strconv"
	"strings"
)

// Facts about fetching remote media again that a report of missing media has to tell, from
// Mastodon's code:
//   - NoStatusMedia: what a media attachment without status_id is (app/models/media_attachment.rb:
//     an upload not posted yet, or the media of a deleted or scheduled status);
//   - NoStatusRefetch: the only tootctl command that reaches such media (lib/mastodon/cli/media.rb,
//     refresh --account), which fetches every file of that account;
//   - RefetchRenames: a fetched file is stored under a new file name (Paperclip's
//     file_file_name is generated again), so the checkpoint must be planned again.
const (
	NoStatusMedia   = "an upload never posted, or the media of a deleted or scheduled status"
	NoStatusRefetch = "only `tootctl media refresh --account USER@DOMAIN --force` reaches them, with every other file of that account"
	RefetchRenames  = "Mastodon stores a file it fetches again under a new file name"
)

// RejectMediaQuery lists the domains whose media Mastodon never fetches
// (app/models/domain_block.rb: reject_media), so their missing media stays missing.
const RejectMediaQuery = `psql -Atc "SELECT domain FROM domain_blocks WHERE reject_media"`

// RefetchCommand is the shell line that makes Mastodon fetch the remote files of kind's
// records ids again, or "" when tootctl has no command for the kind (Mastodon fetches custom
// emojis and preview cards again when it next sees them). The checkpoint knows record ids, not
// usernames or statuses, so the line reads those from the database with psql and feeds
// tootctl (lib/mastodon/cli/media.rb, lib/mastodon/cli/accounts.rb):
//   - media_attachments: `tootctl media refresh --force --status ID`; --force because the
//     record still names a file, which refresh otherwise skips. Media of no status are out of
//     its reach (only --account reaches them, with every other file of that account);
//   - accounts (avatars, headers): `tootctl accounts refresh USERNAME@DOMAIN`.
func RefetchCommand(kind Kind, ids []int64) string {
	in := JoinIDs(ids, ",")
	switch kind {
	case MediaAttachments:
		return `psql -Atc "SELECT DISTINCT status_id FROM media_attachments WHERE id IN (` + in +
			`) AND status_id IS NOT NULL" | xargs -rn1 tootctl media refresh --force --status`
	case Accounts:
		return `psql -Atc "SELECT username || '@' || domain FROM accounts WHERE id IN (` + in +
			`) AND domain IS NOT NULL" | xargs -rn1 tootctl accounts refresh`
	}
	return ""
}

// JoinIDs formats record ids joined by sep.
func JoinIDs(ids []int64, sep string) string {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(list, sep)
}
