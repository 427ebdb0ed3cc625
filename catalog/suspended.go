package catalog

import "github.com/jackc/pgx/v5"

// suspendedColumn is the select-list expression telling whether a row's owning account is
// suspended (accounts.suspended_at IS NOT NULL): the row itself for accounts, the account of
// media_attachments.account_id for media_attachments (one index lookup per row on accounts'
// primary key), false for every other kind and when a needed column does not exist. Mastodon's
// SuspendAccountService makes such media private; [s3.destination] acl_policy = mastodon
// copies them so.
func (r *Reader) suspendedColumn(kind Kind) string {
	accounts := r.tables[Accounts]
	if !accounts.has("suspended_at") {
		return "false"
	}
	switch kind {
	case Accounts:
		return pgx.Identifier{"suspended_at"}.Sanitize() + " IS NOT NULL"
	case MediaAttachments:
		if !r.tables[MediaAttachments].has("account_id") {
			return "false"
		}
		// Unqualified account_id resolves to the outer row: accounts has no such column. The
		// outer table may be aliased (lookup.go), so it cannot be named here.
		return "EXISTS (SELECT 1 FROM " + pgx.Identifier{r.schema, Accounts.Table()}.Sanitize() +
			" AS s3sync_owner WHERE s3sync_owner.id = account_id AND s3sync_owner.suspended_at IS NOT NULL)"
	}
	return "false"
}
