package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Object is one stored file a record references.
type Object struct {
	Kind       Kind
	RecordID   int64
	Attachment string // "file", "thumbnail", "avatar", "header", "image", "icon" or "dump"
	Style      string // "original", "small", "static", "@1x", "16", ...

	// Candidates are the source keys to try, without the key_prefix: the computed key first,
	// then its cache/ flip, then for a non-original style whose filename is not .png the .png
	// variants of both. Never empty, no duplicates.
	Candidates []string

	Size        int64  // bytes the database records for the original; 0 when unknown (every other style)
	ContentType string // the original's content type, or the style's when it is written in its own format ("image/png")
	Remote      bool   // the record is not local: cached remote media
	Suspended   bool   // the owning account is suspended (Record.Suspended): Mastodon keeps the file private
	NoStatus    bool   // media of no status (Record.NoStatus)
}

// Key returns the computed key, the first of the candidates.
func (o Object) Key() string {
	if len(o.Candidates) == 0 {
		return ""
	}
	return o.Candidates[0]
}

// Record is one database row reduced to what the key layout needs. Reader.Scan builds them;
// Objects turns one into the objects it references. Tools that fabricate Mastodon data use it
// to learn where each file belongs.
type Record struct {
	Kind Kind
	ID   int64

	// Remote is true when the record is not local by its kind's rule: media_attachments
	// remote_url is not blank; accounts and custom_emojis domain IS NOT NULL. It is ignored for
	// preview_cards (never local) and for site_uploads, preview_card_providers and backups
	// (always local).
	Remote bool

	// Suspended is true when the account owning the record has suspended_at set: the account
	// itself (avatar, header) or media_attachments.account_id's. Always false for other kinds.
	Suspended bool

	// NoStatus is true for media_attachments whose status_id is NULL (an upload never posted,
	// media of a scheduled status, or of a deleted status): Mastodon's tootctl media refresh
	// works by status and cannot fetch such media again. Always false for other kinds.
	NoStatus bool

	// Var is site_uploads.var ("thumbnail", "favicon", "app_icon", "mascot", ...); it selects
	// the styles. Ignored for other kinds.
	Var string

	// Layout is the Mastodon release whose rules the database follows; the zero Layout is the
	// newest release s3sync knows. Reader.Scan sets it from the schema it detected.
	Layout Layout

	// Files holds one entry per attachment column group present in the row.
	Files []File
}

// File is one attachment's columns in a Record.
type File struct {
	Attachment    string // "file", "thumbnail", "avatar", "header", "image", "icon" or "dump"
	FileName      string // <attachment>_file_name; "" for NULL or empty, which skips the attachment
	ContentType   string // <attachment>_content_type; "" for NULL
	Size          int64  // <attachment>_file_size in bytes; 0 for NULL
	SchemaVersion int64  // <attachment>_storage_schema_version; 0 for NULL or no such column
}

// Style names used by more than one attachment.
const (
	StyleOriginal = "original"
	StyleSmall    = "small"
	StyleStatic   = "static"
)

// cachePrefix is prepended to keys of cached remote media (storage schema version 1, Mastodon 3.2+).
const cachePrefix = "cache/"

// locality says how a kind decides whether a record is local.
type locality int

const (
	alwaysLocal locality = iota // no notion of remote records: never cache/
	neverLocal                  // every record is remote (preview_cards)
	byRemoteURL                 // remote when remote_url <> '' (media_attachments)
	byDomain                    // remote when domain IS NOT NULL (accounts, custom_emojis)
)

// attachmentSpec describes one Paperclip attachment of a table.
type attachmentSpec struct {
	name     string // "file": the column prefix
	plural   string // "files": the key's attachment segment
	optional bool   // the columns may be absent (media_attachments.thumbnail before Mastodon 3.2)
}

// kindSpec describes one table.
type kindSpec struct {
	locality    locality
	attachments []attachmentSpec
}

var specs = map[Kind]kindSpec{
	MediaAttachments: {byRemoteURL, []attachmentSpec{
		{name: "file", plural: "files"},
		{name: "thumbnail", plural: "thumbnails", optional: true},
	}},
	Accounts: {byDomain, []attachmentSpec{
		{name: "avatar", plural: "avatars"},
		{name: "header", plural: "headers"},
	}},
	CustomEmojis:         {byDomain, []attachmentSpec{{name: "image", plural: "images"}}},
	PreviewCards:         {neverLocal, []attachmentSpec{{name: "image", plural: "images"}}},
	SiteUploads:          {alwaysLocal, []attachmentSpec{{name: "file", plural: "files"}}},
	PreviewCardProviders: {alwaysLocal, []attachmentSpec{{name: "icon", plural: "icons"}}},
	Backups:              {alwaysLocal, []attachmentSpec{{name: "dump", plural: "dumps"}}},
}

func (s kindSpec) attachment(name string) (attachmentSpec, bool) {
	for _, a := range s.attachments {
		if a.name == name {
			return a, true
		}
	}
	return attachmentSpec{}, false
}

// Layout names the Mastodon release whose layout rules a database follows, as far as they
// changed from 3.0 on: Major.Minor of the oldest release with the same rules. The zero Layout
// means the newest release s3sync knows. Reader detects it from the tables and columns each
// release added (see Reader.Layout); tools may set it by hand.
type Layout struct {
	Major, Minor int
}

// The releases whose rules differ from the one before (catalog/doc.go has the details).
var (
	// Layout30 is Mastodon 3.0 to 3.4: the Paperclip 6 of those releases pads every id to 9
	// digits, site uploads have no styles, media accept only JPEG, PNG and GIF images.
	Layout30 = Layout{3, 0}
	// Layout35 is 3.5: kt-paperclip pads ids of 10 digits and more to 12.
	Layout35 = Layout{3, 5}
	// Layout40 is 4.0 and 4.1: site upload thumbnails get @1x and @2x; HEIC, HEIF, WebP and
	// AVIF images are accepted, HEIC and HEIF converted to JPEG.
	Layout40 = Layout{4, 0}
	// Layout42 is 4.2 and newer: AVIF is converted to JPEG too.
	Layout42 = Layout{4, 2}
)

// AtLeast reports whether l's rules are those of release major.minor or a later one.
func (l Layout) AtLeast(major, minor int) bool {
	if l.Major == 0 {
		return true
	}
	return l.Major > major || (l.Major == major && l.Minor >= minor)
}

// String returns "3.0 to 3.4", "3.5", "4.0 to 4.1" or "4.2 and newer".
func (l Layout) String() string {
	switch {
	case !l.AtLeast(3, 5):
		return "3.0 to 3.4"
	case !l.AtLeast(4, 0):
		return "3.5"
	case !l.AtLeast(4, 2):
		return "4.0 to 4.1"
	}
	return "4.2 and newer"
}

// style is one Paperclip style: its name and the format it is written in ("" keeps the original's extension).
type style struct {
	name   string
	format string
}

// Site upload styles from app/models/site_upload.rb (FAVICON_SIZES, APPLE_ICON_SIZES and
// ANDROID_ICON_SIZES, Mastodon 4.3+).
var (
	faviconSizes = []int{16, 32, 48}
	// APPLE_ICON_SIZES + ANDROID_ICON_SIZES, deduplicated, in numeric order.
	appIconSizes = []int{36, 48, 57, 60, 72, 76, 96, 114, 120, 144, 152, 167, 180, 192, 256, 384, 512, 1024}
)

// siteUploadStyles is SiteUpload::STYLES[var]: thumbnail @1x/@2x since 4.0
// (app/models/site_upload.rb), favicon and app_icon sizes since 4.3 (those vars do not exist
// before). No released Mastodon writes a favicon "ico" style: it lived on main for seven weeks
// of the 4.3 development. Before 4.0 site uploads have no styles at all.
func siteUploadStyles(v string, l Layout) []style {
	if !l.AtLeast(4, 0) {
		return nil
	}
	var sizes []int
	switch v {
	case "thumbnail":
		return []style{{"@1x", "png"}, {"@2x", "png"}}
	case "favicon":
		sizes = faviconSizes
	case "app_icon":
		sizes = appIconSizes
	default: // "mascot" ({} in STYLES) and any var STYLES does not name
		return nil
	}
	styles := make([]style, 0, len(sizes))
	for _, n := range sizes {
		styles = append(styles, style{strconv.Itoa(n), "png"})
	}
	return styles
}

// Content types of app/models/media_attachment.rb, which file_styles chooses the styles by.
var (
	// IMAGE_MIME_TYPES before 4.0; 4.0 added the four of imageTypes40.
	imageTypes30 = []string{"image/jpeg", "image/png", "image/gif"}
	imageTypes40 = []string{"image/heic", "image/heif", "image/webp", "image/avif"}
	// VIDEO_MIME_TYPES and VIDEO_CONVERTIBLE_MIME_TYPES, unchanged from 3.0 to 4.7.
	videoTypes            = []string{"video/webm", "video/mp4", "video/quicktime", "video/ogg"}
	videoConvertibleTypes = []string{"video/webm", "video/quicktime"}
)

// imageConvertible is IMAGE_CONVERTIBLE_MIME_TYPES: HEIC and HEIF from 4.0, AVIF from 4.2.
func imageConvertible(ct string, l Layout) bool {
	switch ct {
	case "image/heic", "image/heif":
		return l.AtLeast(4, 0)
	case "image/avif":
		return l.AtLeast(4, 2)
	}
	return false
}

// isImageType is IMAGE_MIME_TYPES.include?(ct) for the release.
func isImageType(ct string, l Layout) bool {
	return slices.Contains(imageTypes30, ct) || (l.AtLeast(4, 0) && slices.Contains(imageTypes40, ct))
}

// mediaFileStyles is MediaAttachment.file_styles without the original: decided by
// file_content_type alone, never by type or file_meta. GIFs and the convertible videos get
// VIDEO_CONVERTED_STYLES, whose small is a PNG frame; HEIC/HEIF (and AVIF from 4.2)
// IMAGE_CONVERTED_STYLES, small in JPEG; the other images IMAGE_STYLES, small in the
// original's format; other videos VIDEO_STYLES, small PNG; anything else AUDIO_STYLES, the
// original only.
func mediaFileStyles(ct string, l Layout) []style {
	switch {
	case ct == "image/gif" || slices.Contains(videoConvertibleTypes, ct):
		return []style{{StyleSmall, "png"}}
	case imageConvertible(ct, l):
		return []style{{StyleSmall, "jpeg"}}
	case isImageType(ct, l):
		return []style{{name: StyleSmall}}
	case slices.Contains(videoTypes, ct):
		return []style{{StyleSmall, "png"}}
	}
	return nil
}

// formatContentTypes maps a style's format to the content type Paperclip stores it with.
var formatContentTypes = map[string]string{
	"png":  "image/png",
	"jpeg": "image/jpeg",
}

// styles returns the styles Mastodon made for one attachment of rec, original first.
func (rec Record) styles(f File) []style {
	styles := []style{{name: StyleOriginal}}
	switch {
	case rec.Kind == MediaAttachments && f.Attachment == "file":
		styles = append(styles, mediaFileStyles(f.ContentType, rec.Layout)...)
	case rec.Kind == Accounts:
		// avatar_styles, header_styles (app/models/concerns/account/avatar.rb, header.rb)
		if f.ContentType == "image/gif" {
			styles = append(styles, style{StyleStatic, "png"})
		}
	case rec.Kind == CustomEmojis, rec.Kind == PreviewCardProviders:
		// styles: { static: { format: 'png' } } in app/models/custom_emoji.rb and
		// app/models/preview_card_provider.rb; preview cards (app/models/preview_card.rb) and
		// backups (app/models/backup.rb) have the original only.
		styles = append(styles, style{StyleStatic, "png"})
	case rec.Kind == SiteUploads:
		styles = append(styles, siteUploadStyles(rec.Var, rec.Layout)...)
	}
	return styles
}

// remote applies the kind's locality rule to the record's Remote flag: local? is
// remote_url.blank? in app/models/media_attachment.rb, domain.nil? in
// app/models/concerns/account/*.rb and app/models/custom_emoji.rb, false in
// app/models/preview_card.rb; the other models have no local?, which :prefix_url reads as local.
func (rec Record) remote(s kindSpec) bool {
	switch s.locality {
	case neverLocal:
		return true
	case byRemoteURL, byDomain:
		return rec.Remote
	default:
		return false
	}
}

// Objects returns the objects rec references, attachment by attachment and original first.
// An attachment whose file name is empty is skipped and counted in skipped. One whose file
// name could escape its directory ("/", "..", control characters) is skipped too, counted,
// and described in invalid as "table id attachment: reason".
func (rec Record) Objects() (objects []Object, skipped int, invalid []string) {
	s, ok := specs[rec.Kind]
	if !ok {
		return nil, 0, []string{fmt.Sprintf("%s %d: unknown kind", rec.Kind, rec.ID)}
	}
	remote := rec.remote(s)
	for _, f := range rec.Files {
		a, ok := s.attachment(f.Attachment)
		if !ok {
			skipped++
			invalid = append(invalid, fmt.Sprintf("%s %d %s: unknown attachment", rec.Kind, rec.ID, f.Attachment))
			continue
		}
		if f.FileName == "" {
			skipped++
			continue
		}
		if reason := checkFileName(f.FileName); reason != "" {
			skipped++
			invalid = append(invalid, fmt.Sprintf("%s %d %s: %s", rec.Kind, rec.ID, f.Attachment, reason))
			continue
		}
		// config/initializers/paperclip.rb, :prefix_url: storage_schema_version >= 1 and not local?
		cache := remote && f.SchemaVersion >= 1
		for _, st := range rec.styles(f) {
			obj := Object{
				Kind:        rec.Kind,
				RecordID:    rec.ID,
				Attachment:  f.Attachment,
				Style:       st.name,
				ContentType: f.ContentType,
				Remote:      remote,
				Suspended:   rec.Suspended,
				NoStatus:    rec.NoStatus,
			}
			names := []string{f.FileName}
			if st.name == StyleOriginal {
				obj.Size = f.Size
			} else {
				names = styleFileNames(f.FileName, st.format, f.ContentType, rec.Layout)
				if names == nil {
					continue // Paperclip would write a key ending in "/": nothing to copy
				}
				if ct, ok := formatContentTypes[st.format]; ok {
					obj.ContentType = ct
				}
			}
			obj.Candidates = candidates(rec.Kind, a.plural, rec.ID, st.name, names, cache, rec.Layout)
			objects = append(objects, obj)
		}
	}
	return objects, skipped, invalid
}

// IDPartition returns kt-paperclip's :id_partition for id (lib/paperclip/interpolations.rb,
// v7 and v8, Mastodon 3.5+): an id below ID_PARTITION_LIMIT (1,000,000,000) zero-padded to 9
// digits, a larger one to 12, then every complete group of three digits from the left joined
// by "/" (Ruby's scan(/\d{3}/)): digits left over at the end are dropped. So 7 gives
// "000/000/007", 1234567890 "001/234/567/890", an 18-digit snowflake id six groups and a
// 17-digit one five.
func IDPartition(id int64) string {
	if id < 1_000_000_000 {
		return partition(fmt.Sprintf("%09d", id))
	}
	return partition(fmt.Sprintf("%012d", id))
}

// LegacyIDPartition is the :id_partition of the Paperclip 6 that Mastodon 3.4 and older
// used: every id zero-padded to 9 digits only, so 1234567890 gives "123/456/789". It differs
// from IDPartition for ids of 10 and 11 digits only.
func LegacyIDPartition(id int64) string {
	return partition(fmt.Sprintf("%09d", id))
}

// partition joins every complete group of three digits of s from the left with "/". A minus
// sign (a negative id, which Mastodon never has) breaks a group as scan(/\d{3}/) would.
func partition(s string) string {
	var groups []string
	run := 0 // length of the current run of digits not yet grouped
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			run = 0
			continue
		}
		run++
		if run == 3 {
			groups = append(groups, s[i-2:i+1])
			run = 0
		}
	}
	return strings.Join(groups, "/")
}

// objectKey builds [cache/]<class>/<attachment>/<id_partition>/<style>/<filename>.
func objectKey(cache bool, kind Kind, plural, part, styleName, fileName string) string {
	key := string(kind) + "/" + plural + "/" + part + "/" + styleName + "/" + fileName
	if cache {
		key = cachePrefix + key
	}
	return key
}

// candidates returns the keys a file may be stored under, without duplicates, in this order:
//  1. the key the release of the database asks for (partition, file name, cache/ as computed);
//  2. what another release wrote: the other Paperclip's partition (ids of 10 and 11 digits),
//     the other release's file name (names[1:]);
//  3. the cache/ flip of each of those (an interrupted `tootctl upgrade storage-schema`);
//  4. for a non-original style, the .png variant of each.
func candidates(kind Kind, plural string, id int64, styleName string, names []string, cache bool, l Layout) []string {
	parts := []string{IDPartition(id), LegacyIDPartition(id)}
	if !l.AtLeast(3, 5) {
		parts[0], parts[1] = parts[1], parts[0]
	}
	var list []string
	for _, part := range parts {
		for _, name := range names {
			list = append(list, objectKey(cache, kind, plural, part, styleName, name))
		}
	}
	for _, k := range slices.Clone(list) {
		list = append(list, flipCache(k))
	}
	if styleName != StyleOriginal {
		for _, k := range slices.Clone(list) {
			if !strings.HasSuffix(k, ".png") {
				list = append(list, pngVariant(k))
			}
		}
	}
	out := list[:0]
	seen := make(map[string]bool, len(list))
	for _, k := range list {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// flipCache adds the cache/ prefix to key, or removes it when present.
func flipCache(key string) string {
	if rest, ok := strings.CutPrefix(key, cachePrefix); ok {
		return rest
	}
	return cachePrefix + key
}

// pngVariant replaces the extension of key's last segment with .png.
func pngVariant(key string) string {
	dir, name := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir, name = key[:i+1], key[i+1:]
	}
	base, _ := splitExt(name)
	return dir + base + ".png"
}

// styleFileNames returns the file names a non-original style may have: first the one the
// release asks for, then (AVIF images, whose small is JPEG from 4.2 and AVIF in 4.0 and 4.1)
// the other release's. nil when the name would be empty.
func styleFileNames(fileName, format, contentType string, l Layout) []string {
	name := styleFileName(fileName, format)
	if name == "" || name == "." || name == ".." {
		return nil
	}
	names := []string{name}
	if contentType == "image/avif" && l.AtLeast(4, 0) {
		other := Layout42
		if l.AtLeast(4, 2) {
			other = Layout40
		}
		for _, st := range mediaFileStyles(contentType, other) {
			if alt := styleFileName(fileName, st.format); alt != name && alt != "" && alt != "." && alt != ".." {
				names = append(names, alt)
			}
		}
	}
	return names
}

// styleFileName is Mastodon's :filename for a non-original style (config/initializers/
// paperclip.rb): [basename, extension].compact_blank!.join('.'), where basename is
// File.basename(name, ".*") and extension is the style's format, else the original's
// extension (kt-paperclip's Interpolations#extension). Blank parts (empty or white space)
// are left out, as compact_blank! does. The original style keeps the file name as it is.
func styleFileName(fileName, format string) string {
	base, ext := splitExt(fileName)
	if format != "" {
		ext = format
	}
	var parts []string
	for _, p := range []string{base, ext} {
		if strings.TrimFunc(p, unicode.IsSpace) != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// splitExt splits name like Ruby's File.basename(name, ".*") and File.extname (Ruby 2.7+):
// the extension follows the last dot that is not part of the name's leading dots; a name
// ending in a dot has an empty one. The extension is returned without its dot.
func splitExt(name string) (base, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || strings.TrimLeft(name[:i], ".") == "" {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// checkFileName returns why name cannot be used as the last segment of a key, or "".
// Unicode and spaces are fine; anything that could leave the record's directory is not.
func checkFileName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "file name is not valid UTF-8"
	case strings.HasPrefix(name, "/"):
		return fmt.Sprintf("file name %q starts with a slash", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Sprintf("file name %q contains a path separator", name)
	case name == "." || name == "..":
		// Only a whole path segment can climb; "x..y.jpg" is an ordinary name.
		return fmt.Sprintf("file name is %q", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("file name %q contains a control character", name)
		}
	}
	return ""
}
