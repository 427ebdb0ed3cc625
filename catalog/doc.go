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
a_file_size, a_updated_at and, since Mastodon 3.2, a_storage_schema_version.

# Where the rules come from

Every rule below was read in Mastodon's source, release by release from 3.0 to 4.7, and in
kt-paperclip v8.0.0, the Paperclip Mastodon pins (Gemfile: kt-paperclip ~> 8.0; ~> 7.0 from
3.5, thoughtbot's paperclip 6.0 before). The file each rule comes from is named beside it, so
the next reader can check it. Where an older design note and the code disagreed, the code won.

# Key layout

config/initializers/paperclip.rb sets Paperclip's path for S3 to

	[S3_KEY_PREFIX/]:prefix_url:class/:attachment/:id_partition/:style/:filename

S3_KEY_PREFIX (4.3+) is the storage package's business: every key here is without it.

:class is the table name and :attachment the attachment's plural (kt-paperclip
lib/paperclip/interpolations.rb): media_attachments/files, media_attachments/thumbnails,
accounts/avatars, accounts/headers, custom_emojis/images, preview_cards/images,
site_uploads/files, preview_card_providers/icons, backups/dumps.

:id_partition (kt-paperclip lib/paperclip/interpolations.rb, id_partition): an id below
ID_PARTITION_LIMIT (1,000,000,000) is zero-padded to 9 digits, a larger one to 12; then
scan(/\d{3}/).join("/"): every complete group of three digits from the left, the digits left
over at the end dropped. 7 is 000/000/007, 1234567890 is 001/234/567/890, an 18-digit
snowflake id gives six groups and a 17-digit one five. Mastodon 3.4 and older used
thoughtbot's Paperclip 6, which padded every id to 9 digits (1234567890 is 123/456/789): the
two differ for ids of 10 and 11 digits only. See IDPartition and LegacyIDPartition.

:prefix_url (config/initializers/paperclip.rb) is "cache/" when the attachment's
storage_schema_version is 1 or more (lib/paperclip/attachment_extensions.rb: the column, NULL
read as 0) and the record responds to local? and is not local. local? is remote_url.blank? for
media_attachments (app/models/media_attachment.rb: white space only counts as blank),
domain.nil? for accounts and custom_emojis (app/models/concerns/account/*.rb,
app/models/custom_emoji.rb), false for preview_cards (app/models/preview_card.rb).
site_uploads, preview_card_providers and backups have no local?: never cache/. The storage
schema version columns came with 3.2 (db/migrate/20200417125749); media thumbnails have their
own since 4.6 (db/migrate/20251117023614): before it a thumbnail is never under cache/.

:filename (config/initializers/paperclip.rb overrides kt-paperclip's): the original style is
the file name column as it is; any other style is [basename, extension].compact_blank!.join('.'),
basename being File.basename(name, ".*") and extension the style's format, else the original's
extension (kt-paperclip Interpolations#extension). A video's small is abc.png, an image's small
abc.jpg.

# Styles

	media_attachments.file       by file_content_type alone, as MediaAttachment.file_styles
	                             chooses (app/models/media_attachment.rb; never by type,
	                             never by file_meta): image/gif, video/webm and
	                             video/quicktime: small .png (VIDEO_CONVERTED_STYLES);
	                             image/heic, image/heif (4.0+) and image/avif (4.2+): small
	                             .jpeg (IMAGE_CONVERTED_STYLES); the other IMAGE_MIME_TYPES
	                             (jpeg, png; webp and avif from 4.0): small with the
	                             original's extension; the other video types: small .png;
	                             anything else (audio, unknown): original only
	media_attachments.thumbnail  original (THUMBNAIL_STYLES; columns since 3.2)
	accounts.avatar, .header     original; static (.png) when the content type is image/gif
	                             (app/models/concerns/account/avatar.rb, header.rb)
	custom_emojis.image          original, static (.png) (app/models/custom_emoji.rb)
	preview_cards.image          original (app/models/preview_card.rb)
	site_uploads.file            original, plus SiteUpload::STYLES[var]
	                             (app/models/site_upload.rb): none before 4.0; thumbnail @1x
	                             and @2x (.png) from 4.0; favicon 16, 32, 48 and app_icon 36
	                             to 1024 (.png) from 4.3; mascot and other vars none. No
	                             released Mastodon writes a favicon "ico" style.
	preview_card_providers.icon  original, static (.png) (app/models/preview_card_provider.rb; 3.5+)
	backups.dump                 original (app/models/backup.rb)

# Releases

Where a rule changed between releases, the database's release decides which key comes first.
Reader tells the release from what each one added to the tables it reads (Reader.Layout): no
preview_card_providers table is 3.0 to 3.4 (Paperclip 6's 9-digit partition, no site upload
styles, images only JPEG, PNG and GIF); no site_uploads.blurhash is 3.5; no
preview_cards.published_at is 4.0 or 4.1 (AVIF kept, not converted); anything else is 4.2 or
newer. Reader.Version names the release from schema_migrations, from a table of each
release's last migration (version.go).

# Candidates

Real buckets drift from the rules: files written by an older release, moved by hand, or left
behind by an interrupted `tootctl upgrade storage-schema`. Each Object therefore lists
candidate keys in order: the key the database's release asks for; then what another release
wrote (the other Paperclip's partition, the other release's AVIF small); then the cache/ flip
of each; then for a non-original style the .png variant of each. The copier reads the first
that exists and writes it to the first, the key Mastodon asks for.

# Hostile values

File names come from the database and may hold anything. Unicode and spaces are kept as they
are. An attachment whose file name is NULL or empty is skipped and counted; one whose name
contains "/", "\", "..", a control character or invalid UTF-8 is skipped, counted and
reported in Page.Invalid, so no key ever leaves its record's directory.

# Mastodon's environment

Env reads .env.production (ParseEnvFile: the syntax of the dotenv gem, bkeepers/dotenv
lib/dotenv/parser.rb, without running $(…)) or the process environment as Mastodon does.
Env.Bucket follows config/initializers/paperclip.rb: S3_ENABLED=true, S3_ENDPOINT the API
(path-style unless S3_OVERRIDE_PATH_STYLE=true; without it AWS S3 in S3_REGION, default
us-east-1), S3_HOSTNAME and S3_ALIAS_HOST only for media URLs, S3_PERMISSION public-read unless
set (empty: no ACL). Env.Database follows config/database.yml (production): DB_* with their
defaults, then what DATABASE_URL names over them, as Rails merges it. What s3sync cannot follow
is an *EnvError naming the variable; no message shows a secret.

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

# Reaching the server

Connections go to the server directly, or through DBConfig.DialFunc when it is set: an SSH
tunnel (package tunnel) plugs in there, so that no SSH knowledge lives beside the Mastodon
rules and a tunnel can be tested, or replaced, on its own. Its errors cross the seam as
they are; one with a method ConnectionError() bool says by it whether it is a lost
connection worth a Reconnect (a dropped tunnel) or not (a refused login or host key).
*/
package catalog
