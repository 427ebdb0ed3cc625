package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	// remote_url is not empty; accounts and custom_emojis domain IS NOT NULL. It is ignored for
	// preview_cards (never local) and for site_uploads, preview_card_providers and backups
	// (always local).
	Remote bool

	// Suspended is true when the account owning the record has suspended_at set: the account
	// itself (avatar, header) or media_attachments.account_id's. Always false for other kinds.
	Suspended bool

	// MediaType is media_attachments.type: 0 image, 1 gifv, 2 video, 3 unknown, 4 audio.
	// Ignored for other kinds.
	MediaType int

	// Var is site_uploads.var ("thumbnail", "favicon", "app_icon", "mascot", ...); it selects
	// the styles. Ignored for other kinds.
	Var string

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
	Meta          string // <attachment>_meta JSON text (media_attachments.file_meta); "" for NULL
}

// Media types stored in media_attachments.type (Mastodon's enum order).
const (
	MediaImage   = 0
	MediaGifv    = 1
	MediaVideo   = 2
	MediaUnknown = 3
	MediaAudio   = 4
)

// Style names used by more than one attachment.
const (
	StyleOriginal = "original"
	StyleSmall    = "small"
	StyleStatic   = "static"
)

// cachePrefix is prepended to keys of cached remote media (Mastodon 3.3+ storage schema version 1).
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
	optional bool   // the columns may be absent (media_attachments.thumbnail before Mastodon 3.5)
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

// style is one Paperclip style: its name and the format it is written in ("" keeps the original's extension).
type style struct {
	name   string
	format string
}

// Site upload styles from Mastodon's app/models/site_upload.rb (4.3+).
var (
	faviconSizes = []int{16, 32, 48}
	// APPLE_ICON_SIZES + ANDROID_ICON_SIZES, deduplicated, in numeric order.
	appIconSizes = []int{36, 48, 57, 60, 72, 76, 96, 114, 120, 144, 152, 167, 180, 192, 256, 384, 512, 1024}
)

func siteUploadStyles(v string) []style {
	switch v {
	case "thumbnail":
		return []style{{"@1x", "png"}, {"@2x", "png"}}
	case "favicon":
		styles := []style{{"ico", "ico"}}
		for _, n := range faviconSizes {
			styles = append(styles, style{strconv.Itoa(n), "png"})
		}
		return styles
	case "app_icon":
		styles := make([]style, 0, len(appIconSizes))
		for _, n := range appIconSizes {
			styles = append(styles, style{strconv.Itoa(n), "png"})
		}
		return styles
	default: // "mascot" and any var Mastodon has no styles for
		return nil
	}
}

// formatContentTypes maps a style's format to the content type Paperclip stores it with.
var formatContentTypes = map[string]string{
	"png": "image/png",
	"ico": "image/x-icon",
}

// styles returns the styles Mastodon made for one attachment of rec, original first.
func (rec Record) styles(f File) []style {
	styles := []style{{name: StyleOriginal}}
	switch {
	case rec.Kind == MediaAttachments && f.Attachment == "file":
		if metaLacksSmall(f.Meta) {
			break
		}
		switch rec.MediaType {
		case MediaImage:
			styles = append(styles, style{name: StyleSmall})
		case MediaGifv, MediaVideo:
			styles = append(styles, style{StyleSmall, "png"})
		}
	case rec.Kind == Accounts:
		if f.ContentType == "image/gif" {
			styles = append(styles, style{StyleStatic, "png"})
		}
	case rec.Kind == CustomEmojis:
		styles = append(styles, style{StyleStatic, "png"})
	case rec.Kind == SiteUploads:
		styles = append(styles, siteUploadStyles(rec.Var)...)
	}
	return styles
}

// metaLacksSmall reports whether file_meta is a JSON object that records an original but no
// small style: the small was never made. NULL, unparsable or style-less meta says nothing.
func metaLacksSmall(meta string) bool {
	if meta == "" {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		return false
	}
	_, hasOriginal := m[StyleOriginal]
	_, hasSmall := m[StyleSmall]
	return hasOriginal && !hasSmall
}

// remote applies the kind's locality rule to the record's Remote flag.
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
			}
			name := f.FileName
			if st.name == StyleOriginal {
				obj.Size = f.Size
			} else {
				name = styleFileName(f.FileName, st.format)
				if ct, ok := formatContentTypes[st.format]; ok {
					obj.ContentType = ct
				}
			}
			key := objectKey(cache, rec.Kind, a.plural, rec.ID, st.name, name)
			obj.Candidates = candidates(key, st.name != StyleOriginal)
			objects = append(objects, obj)
		}
	}
	return objects, skipped, invalid
}

// IDPartition returns Paperclip's :id_partition for id: the id zero-padded to at least nine
// digits, then every complete group of three digits from the left joined by "/". Digits left
// over at the end are dropped, so 7 gives "000/000/007" and an 18-digit snowflake id six groups.
func IDPartition(id int64) string {
	s := fmt.Sprintf("%09d", id)
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
func objectKey(cache bool, kind Kind, plural string, id int64, styleName, fileName string) string {
	key := string(kind) + "/" + plural + "/" + IDPartition(id) + "/" + styleName + "/" + fileName
	if cache {
		key = cachePrefix + key
	}
	return key
}

// candidates returns key, its cache/ flip and, for a non-original style not already .png,
// the .png variants of both, without duplicates.
func candidates(key string, nonOriginal bool) []string {
	flipped := flipCache(key)
	list := []string{key, flipped}
	if nonOriginal && !strings.HasSuffix(key, ".png") {
		list = append(list, pngVariant(key), pngVariant(flipped))
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

// styleFileName is Paperclip's :filename for a non-original style: the basename with the
// style's format as extension, or the original extension when the style has no format.
func styleFileName(fileName, format string) string {
	base, ext := splitExt(fileName)
	if format != "" {
		ext = format
	}
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// splitExt splits name like Ruby's File.basename(name, ".*") and File.extname: the extension
// follows the last dot unless that dot starts the name; it is returned without the dot.
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
