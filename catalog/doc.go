/*
Package catalog knows where Mastodon keeps its files and reads Mastodon's PostgreSQL
database to list every stored object. It never touches S3 and knows nothing of the
checkpoint: it turns table rows into Objects, each with the keys the file may have.

# Kinds

A Kind is one Mastodon table whose rows reference files through Paperclip attachments:

	media_attachments       file, thumbnail
	accounts                avatar, header
	custom_emojis           image
	preview_cards           image
	site_uploads            file
	preview_card_providers  icon
	backups                 dump

An attachment named a keeps its state in the columns a_file_name, a_content_type,
a_file_size, a_updated_at and, since Mastodon 3.3, a_storage_schema_version.

# Key layout

Paperclip stores each style of an attachment under

	[cache/]<class>/<attachment>/<id_partition>/<style>/<filename>

Mastodon 4.3+ may put its S3_KEY_PREFIX in front; that prefix is the storage package's
business, and every key here is without it.

<class> is the table name and <attachment> the attachment's plural: media_attachments/files,
media_attachments/thumbnails, accounts/avatars, accounts/headers, custom_emojis/images,
preview_cards/images, site_uploads/files, preview_card_providers/icons, backups/dumps.

<id_partition> is the record id zero-padded to at least nine digits, then every complete
group of three digits from the left joined by "/"; digits left over at the end are dropped.
So 7 is 000/000/007, 123456789 and 1234567890 are both 123/456/789, and an 18-digit
snowflake id gives six groups. See IDPartition.

cache/ is present when the attachment's storage schema version is 1 or more and the record is
not local: media_attachments whose remote_url is not empty, accounts and custom_emojis with a domain,
and every preview card. A NULL or 0 version, or no such column (Mastodon before 3.3, and
media thumbnails before 4.6), means no prefix. site_uploads, preview_card_providers and
backups are always local.

<filename> is the attachment's file name for the original style. Any other style uses the
same basename with the style's format as extension when it has one (a video's small is
abc.png), else the original's extension (an image's small is abc.jpg).

# Styles

	media_attachments.file       original; small for image (same extension), gifv and video
	                             (.png); audio and unknown: original only. A file_meta that
	                             records an original but no small means no small was made.
	media_attachments.thumbnail  original
	accounts.avatar, .header     original; static (.png) when the content type is image/gif
	custom_emojis.image          original, static (.png)
	preview_cards.image          original
	site_uploads.file            original, plus by var: thumbnail @1x, @2x (.png); favicon
	                             ico (.ico), 16, 32, 48 (.png); app_icon 36 to 1024 (.png);
	                             mascot none
	preview_card_providers.icon  original
	backups.dump                 original

# Candidates

Real buckets drift from the rules: files uploaded by older versions, moved by hand, or written
before a schema version changed. Each Object therefore lists candidate keys in order: the
computed key, then its cache/ flip, then for a non-original style whose name is not already
.png the .png variants of both. The copier takes the first that exists.

# Hostile values

File names come from the database and may hold anything. Unicode and spaces are kept as they
are. An attachment whose file name is NULL or empty is skipped and counted; one whose name
contains "/", "\", "..", a control character or invalid UTF-8 is skipped, counted and
reported in Page.Invalid, so no key ever leaves its record's directory.

# Reading the database

Open connects with pgx, pings, and reads information_schema once to learn which tables and
optional columns exist; queries select only those. Scan walks a table in id order with keyset
pagination (WHERE id > last ORDER BY id LIMIT n), handing each page of records and their
objects to a callback, so no table is ever held in memory. A table that does not exist gives
ErrNoTable; a missing file-name column is an error naming table and column.

Errors from Open are one line, name host:port/database, and never contain the password.
Errors caused by a lost or refused connection wrap ErrConnection (IsConnectionError); after
one, Reader.Reconnect makes a new connection and Scan's AfterID resumes after the last page
handled.

# SSH tunnel

OpenTunnel logs in to an SSH server with golang.org/x/crypto/ssh (a key file, then an
ssh-agent's keys, then a password) after checking its host key against an OpenSSH
known_hosts file, and its DialContext, set as DBConfig.DialFunc, carries each database
connection as a channel of that one SSH connection: no ssh process, no local port. Keepalives
find a dead connection; the next dial, as made by Reconnect, replaces it. An unknown host key
is refused with its fingerprint and the known_hosts line to add (ErrHostKeyUnknown), another
key than the listed one loudly (ErrHostKeyChanged).
*/
package catalog
