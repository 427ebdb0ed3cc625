package catalog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestIDPartition(t *testing.T) {
	tests := []struct {
		id   int64
		want string
	}{
		{0, "000/000/000"},
		{7, "000/000/007"},
		{1234, "000/001/234"},
		{123456789, "123/456/789"},
		{999999999, "999/999/999"},                       // the largest id padded to 9
		{1000000000, "001/000/000/000"},                  // ID_PARTITION_LIMIT: padded to 12
		{1234567890, "001/234/567/890"},                  // 10 digits: 4 groups
		{12345678901, "012/345/678/901"},                 // 11 digits
		{123456789012, "123/456/789/012"},                // 12 digits: 4 groups
		{12345678901234567, "123/456/789/012/345"},       // 17 digits: 5 groups, last 2 digits dropped
		{109876543210987654, "109/876/543/210/987/654"},  // 18-digit snowflake: 6 groups
		{9223372036854775807, "922/337/203/685/477/580"}, // max int64, 19 digits
	}
	for _, tt := range tests {
		if got := IDPartition(tt.id); got != tt.want {
			t.Errorf("IDPartition(%d) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

// obj renders an object for comparison: "attachment/style ct size remote: candidates".
func obj(o Object) string {
	return fmt.Sprintf("%s/%s %s %d %v: %s", o.Attachment, o.Style, o.ContentType, o.Size, o.Remote, strings.Join(o.Candidates, " | "))
}

func objs(list []Object) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i] = obj(o)
	}
	return out
}

const p7 = "000/000/007"

func TestObjects(t *testing.T) {
	ma := "media_attachments/files/" + p7
	tests := []struct {
		name    string
		rec     Record
		want    []string
		skipped int
	}{
		{
			name: "local image: original and small with the same extension",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.jpg", ContentType: "image/jpeg", Size: 100, SchemaVersion: 1},
			}},
			want: []string{
				"file/original image/jpeg 100 false: " + ma + "/original/abc.jpg | cache/" + ma + "/original/abc.jpg",
				"file/small image/jpeg 0 false: " + ma + "/small/abc.jpg | cache/" + ma + "/small/abc.jpg | " +
					ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "remote image with schema version 1: cache/",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file", FileName: "abc.jpeg", ContentType: "image/jpeg", Size: 5, SchemaVersion: 1},
			}},
			want: []string{
				"file/original image/jpeg 5 true: cache/" + ma + "/original/abc.jpeg | " + ma + "/original/abc.jpeg",
				"file/small image/jpeg 0 true: cache/" + ma + "/small/abc.jpeg | " + ma + "/small/abc.jpeg | cache/" +
					ma + "/small/abc.png | " + ma + "/small/abc.png",
			},
		},
		{
			name: "remote image with schema version 0 or NULL: no cache/",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file", FileName: "a.png", ContentType: "image/png", Size: 5},
			}},
			want: []string{
				"file/original image/png 5 true: " + ma + "/original/a.png | cache/" + ma + "/original/a.png",
				"file/small image/png 0 true: " + ma + "/small/a.png | cache/" + ma + "/small/a.png",
			},
		},
		{
			name: "remote video: small is .png",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file", FileName: "abc.mp4", ContentType: "video/mp4", Size: 9, SchemaVersion: 1},
			}},
			want: []string{
				"file/original video/mp4 9 true: cache/" + ma + "/original/abc.mp4 | " + ma + "/original/abc.mp4",
				"file/small image/png 0 true: cache/" + ma + "/small/abc.png | " + ma + "/small/abc.png",
			},
		},
		{
			name: "gifv: small is .png",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.mp4", ContentType: "video/mp4", Size: 9},
			}},
			want: []string{
				"file/original video/mp4 9 false: " + ma + "/original/abc.mp4 | cache/" + ma + "/original/abc.mp4",
				"file/small image/png 0 false: " + ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "audio: original only",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.mp3", ContentType: "audio/mpeg", Size: 3},
			}},
			want: []string{"file/original audio/mpeg 3 false: " + ma + "/original/abc.mp3 | cache/" + ma + "/original/abc.mp3"},
		},
		{
			name: "unknown type: original only",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.bin", ContentType: "application/octet-stream"},
			}},
			want: []string{"file/original application/octet-stream 0 false: " + ma + "/original/abc.bin | cache/" + ma + "/original/abc.bin"},
		},
		{
			name: "non-animated GIF: small is .png (VIDEO_CONVERTED_STYLES)",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.gif", ContentType: "image/gif", Size: 9},
			}},
			want: []string{
				"file/original image/gif 9 false: " + ma + "/original/abc.gif | cache/" + ma + "/original/abc.gif",
				"file/small image/png 0 false: " + ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "HEIC: small is .jpeg (IMAGE_CONVERTED_STYLES)",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.heic", ContentType: "image/heic"},
			}},
			want: []string{
				"file/original image/heic 0 false: " + ma + "/original/abc.heic | cache/" + ma + "/original/abc.heic",
				"file/small image/jpeg 0 false: " + ma + "/small/abc.jpeg | cache/" + ma + "/small/abc.jpeg | " +
					ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "AVIF on 4.2+: small .jpeg first, 4.0's .avif next",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.avif", ContentType: "image/avif"},
			}},
			want: []string{
				"file/original image/avif 0 false: " + ma + "/original/abc.avif | cache/" + ma + "/original/abc.avif",
				"file/small image/jpeg 0 false: " + ma + "/small/abc.jpeg | " + ma + "/small/abc.avif | cache/" + ma + "/small/abc.jpeg | cache/" +
					ma + "/small/abc.avif | " + ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "AVIF on 4.0: small .avif first",
			rec: Record{Kind: MediaAttachments, ID: 7, Layout: Layout40, Files: []File{
				{Attachment: "file", FileName: "abc.avif", ContentType: "image/avif"},
			}},
			want: []string{
				"file/original image/avif 0 false: " + ma + "/original/abc.avif | cache/" + ma + "/original/abc.avif",
				"file/small image/avif 0 false: " + ma + "/small/abc.avif | " + ma + "/small/abc.jpeg | cache/" + ma + "/small/abc.avif | cache/" +
					ma + "/small/abc.jpeg | " + ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "WebP on 3.x is no image type there: original only",
			rec: Record{Kind: MediaAttachments, ID: 7, Layout: Layout30, Files: []File{
				{Attachment: "file", FileName: "abc.webp", ContentType: "image/webp"},
			}},
			want: []string{"file/original image/webp 0 false: " + ma + "/original/abc.webp | cache/" + ma + "/original/abc.webp"},
		},
		{
			name: "WebM video: small is .png",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "abc.webm", ContentType: "video/webm"},
			}},
			want: []string{
				"file/original video/webm 0 false: " + ma + "/original/abc.webm | cache/" + ma + "/original/abc.webm",
				"file/small image/png 0 false: " + ma + "/small/abc.png | cache/" + ma + "/small/abc.png",
			},
		},
		{
			name: "ten-digit id: kt-paperclip's 12-digit partition first, Paperclip 6's next",
			rec: Record{Kind: Accounts, ID: 1234567890, Files: []File{
				{Attachment: "avatar", FileName: "a.png", ContentType: "image/png"},
			}},
			want: []string{"avatar/original image/png 0 false: accounts/avatars/001/234/567/890/original/a.png | accounts/avatars/123/456/789/original/a.png | " +
				"cache/accounts/avatars/001/234/567/890/original/a.png | cache/accounts/avatars/123/456/789/original/a.png"},
		},
		{
			name: "eleven-digit id on 3.4: 9-digit partition first",
			rec: Record{Kind: Accounts, ID: 12345678901, Layout: Layout30, Files: []File{
				{Attachment: "avatar", FileName: "a.png", ContentType: "image/png"},
			}},
			want: []string{"avatar/original image/png 0 false: accounts/avatars/123/456/789/original/a.png | accounts/avatars/012/345/678/901/original/a.png | " +
				"cache/accounts/avatars/123/456/789/original/a.png | cache/accounts/avatars/012/345/678/901/original/a.png"},
		},
		{
			name: "site upload thumbnail before 4.0: original only",
			rec: Record{Kind: SiteUploads, ID: 7, Var: "thumbnail", Layout: Layout35, Files: []File{
				{Attachment: "file", FileName: "t.jpg", ContentType: "image/jpeg"},
			}},
			want: []string{"file/original image/jpeg 0 false: site_uploads/files/" + p7 + "/original/t.jpg | cache/site_uploads/files/" + p7 + "/original/t.jpg"},
		},
		{
			name: "remote thumbnail with its own schema version (4.6)",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file", FileName: "abc.mp3", ContentType: "audio/mpeg", Size: 1, SchemaVersion: 1},
				{Attachment: "thumbnail", FileName: "t.jpg", ContentType: "image/jpeg", Size: 2, SchemaVersion: 1},
			}},
			want: []string{
				"file/original audio/mpeg 1 true: cache/" + ma + "/original/abc.mp3 | " + ma + "/original/abc.mp3",
				"thumbnail/original image/jpeg 2 true: cache/media_attachments/thumbnails/" + p7 + "/original/t.jpg | media_attachments/thumbnails/" + p7 + "/original/t.jpg",
			},
		},
		{
			name: "remote thumbnail without a schema version (before 4.6)",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file", FileName: "abc.mp3", ContentType: "audio/mpeg", Size: 1, SchemaVersion: 1},
				{Attachment: "thumbnail", FileName: "t.jpg", ContentType: "image/jpeg", Size: 2},
			}},
			want: []string{
				"file/original audio/mpeg 1 true: cache/" + ma + "/original/abc.mp3 | " + ma + "/original/abc.mp3",
				"thumbnail/original image/jpeg 2 true: media_attachments/thumbnails/" + p7 + "/original/t.jpg | cache/media_attachments/thumbnails/" + p7 + "/original/t.jpg",
			},
		},
		{
			name: "media without a file: skipped, thumbnail kept",
			rec: Record{Kind: MediaAttachments, ID: 7, Remote: true, Files: []File{
				{Attachment: "file"},
				{Attachment: "thumbnail", FileName: "t.jpg", ContentType: "image/jpeg"},
			}},
			want: []string{
				"thumbnail/original image/jpeg 0 true: media_attachments/thumbnails/" + p7 + "/original/t.jpg | cache/media_attachments/thumbnails/" + p7 + "/original/t.jpg",
			},
			skipped: 1,
		},
		{
			name: "local account: jpeg avatar has no static, gif header has",
			rec: Record{Kind: Accounts, ID: 7, Files: []File{
				{Attachment: "avatar", FileName: "a.jpg", ContentType: "image/jpeg", Size: 10, SchemaVersion: 1},
				{Attachment: "header", FileName: "h.gif", ContentType: "image/gif", Size: 20, SchemaVersion: 1},
			}},
			want: []string{
				"avatar/original image/jpeg 10 false: accounts/avatars/" + p7 + "/original/a.jpg | cache/accounts/avatars/" + p7 + "/original/a.jpg",
				"header/original image/gif 20 false: accounts/headers/" + p7 + "/original/h.gif | cache/accounts/headers/" + p7 + "/original/h.gif",
				"header/static image/png 0 false: accounts/headers/" + p7 + "/static/h.png | cache/accounts/headers/" + p7 + "/static/h.png",
			},
		},
		{
			name: "remote account: per-attachment schema version",
			rec: Record{Kind: Accounts, ID: 7, Remote: true, Files: []File{
				{Attachment: "avatar", FileName: "a.gif", ContentType: "image/gif", SchemaVersion: 1},
				{Attachment: "header", FileName: "h.png", ContentType: "image/png", SchemaVersion: 0},
			}},
			want: []string{
				"avatar/original image/gif 0 true: cache/accounts/avatars/" + p7 + "/original/a.gif | accounts/avatars/" + p7 + "/original/a.gif",
				"avatar/static image/png 0 true: cache/accounts/avatars/" + p7 + "/static/a.png | accounts/avatars/" + p7 + "/static/a.png",
				"header/original image/png 0 true: accounts/headers/" + p7 + "/original/h.png | cache/accounts/headers/" + p7 + "/original/h.png",
			},
		},
		{
			name: "account with a header but no avatar",
			rec: Record{Kind: Accounts, ID: 7, Files: []File{
				{Attachment: "avatar"},
				{Attachment: "header", FileName: "h.png", ContentType: "image/png"},
			}},
			want: []string{
				"header/original image/png 0 false: accounts/headers/" + p7 + "/original/h.png | cache/accounts/headers/" + p7 + "/original/h.png",
			},
			skipped: 1,
		},
		{
			name: "local emoji: static always",
			rec: Record{Kind: CustomEmojis, ID: 7, Files: []File{
				{Attachment: "image", FileName: "blob.png", ContentType: "image/png", Size: 4, SchemaVersion: 1},
			}},
			want: []string{
				"image/original image/png 4 false: custom_emojis/images/" + p7 + "/original/blob.png | cache/custom_emojis/images/" + p7 + "/original/blob.png",
				"image/static image/png 0 false: custom_emojis/images/" + p7 + "/static/blob.png | cache/custom_emojis/images/" + p7 + "/static/blob.png",
			},
		},
		{
			name: "remote emoji with schema version 1",
			rec: Record{Kind: CustomEmojis, ID: 7, Remote: true, Files: []File{
				{Attachment: "image", FileName: "party.gif", ContentType: "image/gif", SchemaVersion: 1},
			}},
			want: []string{
				"image/original image/gif 0 true: cache/custom_emojis/images/" + p7 + "/original/party.gif | custom_emojis/images/" + p7 + "/original/party.gif",
				"image/static image/png 0 true: cache/custom_emojis/images/" + p7 + "/static/party.png | custom_emojis/images/" + p7 + "/static/party.png",
			},
		},
		{
			name: "preview card is never local",
			rec: Record{Kind: PreviewCards, ID: 7, Files: []File{
				{Attachment: "image", FileName: "c.jpg", ContentType: "image/jpeg", Size: 8, SchemaVersion: 1},
			}},
			want: []string{"image/original image/jpeg 8 true: cache/preview_cards/images/" + p7 + "/original/c.jpg | preview_cards/images/" + p7 + "/original/c.jpg"},
		},
		{
			name: "preview card without schema version",
			rec: Record{Kind: PreviewCards, ID: 7, Files: []File{
				{Attachment: "image", FileName: "c.jpg", ContentType: "image/jpeg"},
			}},
			want: []string{"image/original image/jpeg 0 true: preview_cards/images/" + p7 + "/original/c.jpg | cache/preview_cards/images/" + p7 + "/original/c.jpg"},
		},
		{
			name: "site upload thumbnail: @1x and @2x .png, never cache/",
			rec: Record{Kind: SiteUploads, ID: 7, Remote: true, Var: "thumbnail", Files: []File{
				{Attachment: "file", FileName: "t.jpg", ContentType: "image/jpeg", Size: 6, SchemaVersion: 1},
			}},
			want: []string{
				"file/original image/jpeg 6 false: site_uploads/files/" + p7 + "/original/t.jpg | cache/site_uploads/files/" + p7 + "/original/t.jpg",
				"file/@1x image/png 0 false: site_uploads/files/" + p7 + "/@1x/t.png | cache/site_uploads/files/" + p7 + "/@1x/t.png",
				"file/@2x image/png 0 false: site_uploads/files/" + p7 + "/@2x/t.png | cache/site_uploads/files/" + p7 + "/@2x/t.png",
			},
		},
		{
			name: "site upload favicon: 16, 32, 48, no ico",
			rec: Record{Kind: SiteUploads, ID: 7, Var: "favicon", Files: []File{
				{Attachment: "file", FileName: "f.png", ContentType: "image/png"},
			}},
			want: []string{
				"file/original image/png 0 false: site_uploads/files/" + p7 + "/original/f.png | cache/site_uploads/files/" + p7 + "/original/f.png",
				"file/16 image/png 0 false: site_uploads/files/" + p7 + "/16/f.png | cache/site_uploads/files/" + p7 + "/16/f.png",
				"file/32 image/png 0 false: site_uploads/files/" + p7 + "/32/f.png | cache/site_uploads/files/" + p7 + "/32/f.png",
				"file/48 image/png 0 false: site_uploads/files/" + p7 + "/48/f.png | cache/site_uploads/files/" + p7 + "/48/f.png",
			},
		},
		{
			name: "site upload mascot: original only",
			rec: Record{Kind: SiteUploads, ID: 7, Var: "mascot", Files: []File{
				{Attachment: "file", FileName: "m.svg", ContentType: "image/svg+xml"},
			}},
			want: []string{"file/original image/svg+xml 0 false: site_uploads/files/" + p7 + "/original/m.svg | cache/site_uploads/files/" + p7 + "/original/m.svg"},
		},
		{
			name: "preview card provider: original and static .png, never cache/",
			rec: Record{Kind: PreviewCardProviders, ID: 7, Remote: true, Files: []File{
				{Attachment: "icon", FileName: "i.ico", ContentType: "image/x-icon", Size: 3, SchemaVersion: 1},
			}},
			want: []string{
				"icon/original image/x-icon 3 false: preview_card_providers/icons/" + p7 + "/original/i.ico | cache/preview_card_providers/icons/" + p7 + "/original/i.ico",
				"icon/static image/png 0 false: preview_card_providers/icons/" + p7 + "/static/i.png | cache/preview_card_providers/icons/" + p7 + "/static/i.png",
			},
		},
		{
			name: "backup: original",
			rec: Record{Kind: Backups, ID: 7, Files: []File{
				{Attachment: "dump", FileName: "archive-20240101.zip", ContentType: "application/zip", Size: 1 << 40},
			}},
			want: []string{"dump/original application/zip 1099511627776 false: backups/dumps/" + p7 + "/original/archive-20240101.zip | cache/backups/dumps/" + p7 + "/original/archive-20240101.zip"},
		},
		{
			name: "unicode and spaces are legal",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "фото 1.jpg", ContentType: "image/jpeg"},
			}},
			want: []string{
				"file/original image/jpeg 0 false: " + ma + "/original/фото 1.jpg | cache/" + ma + "/original/фото 1.jpg",
				"file/small image/jpeg 0 false: " + ma + "/small/фото 1.jpg | cache/" + ma + "/small/фото 1.jpg | " +
					ma + "/small/фото 1.png | cache/" + ma + "/small/фото 1.png",
			},
		},
		{
			name: "name without extension",
			rec: Record{Kind: MediaAttachments, ID: 7, Files: []File{
				{Attachment: "file", FileName: "blob", ContentType: "image/jpeg"},
			}},
			want: []string{
				"file/original image/jpeg 0 false: " + ma + "/original/blob | cache/" + ma + "/original/blob",
				"file/small image/jpeg 0 false: " + ma + "/small/blob | cache/" + ma + "/small/blob | " +
					ma + "/small/blob.png | cache/" + ma + "/small/blob.png",
			},
		},
		{
			name: "18-digit snowflake id",
			rec: Record{Kind: MediaAttachments, ID: 109876543210987654, Files: []File{
				{Attachment: "file", FileName: "a.mp3", ContentType: "audio/mpeg"},
			}},
			want: []string{"file/original audio/mpeg 0 false: media_attachments/files/109/876/543/210/987/654/original/a.mp3 | cache/media_attachments/files/109/876/543/210/987/654/original/a.mp3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped, invalid := tt.rec.Objects()
			if !reflect.DeepEqual(objs(got), tt.want) {
				t.Errorf("objects:\n got %s\nwant %s", strings.Join(objs(got), "\n     "), strings.Join(tt.want, "\n     "))
			}
			if skipped != tt.skipped || len(invalid) != 0 {
				t.Errorf("skipped %d invalid %q, want %d and none", skipped, invalid, tt.skipped)
			}
			for _, o := range got {
				if o.Kind != tt.rec.Kind || o.RecordID != tt.rec.ID {
					t.Errorf("object %s has kind %s id %d", obj(o), o.Kind, o.RecordID)
				}
				if o.Key() != o.Candidates[0] {
					t.Errorf("Key() = %q", o.Key())
				}
			}
		})
	}
}

func TestSiteUploadAppIcon(t *testing.T) {
	rec := Record{Kind: SiteUploads, ID: 7, Var: "app_icon", Files: []File{{Attachment: "file", FileName: "icon.png", ContentType: "image/png"}}}
	got, _, _ := rec.Objects()
	var styles []string
	for _, o := range got {
		styles = append(styles, o.Style)
		if o.Style != StyleOriginal {
			want := "site_uploads/files/" + p7 + "/" + o.Style + "/icon.png"
			if o.Key() != want || o.ContentType != "image/png" || len(o.Candidates) != 2 {
				t.Errorf("%s: key %q ct %q candidates %d", o.Style, o.Key(), o.ContentType, len(o.Candidates))
			}
		}
	}
	want := "original 36 48 57 60 72 76 96 114 120 144 152 167 180 192 256 384 512 1024"
	if s := strings.Join(styles, " "); s != want {
		t.Errorf("styles %q, want %q", s, want)
	}
}

func TestObjectsHostileFileNames(t *testing.T) {
	bad := []string{
		"../../etc/passwd",
		"/etc/passwd",
		"a/b.jpg",
		"..",
		".",
		`a\b.jpg`,
		"nul\x00.jpg",
		"line\nbreak.jpg",
		"bad\xffutf8.jpg",
	}
	for _, name := range bad {
		rec := Record{Kind: Accounts, ID: 42, Files: []File{
			{Attachment: "avatar", FileName: name, ContentType: "image/gif"},
			{Attachment: "header", FileName: "ok.png", ContentType: "image/png"},
		}}
		got, skipped, invalid := rec.Objects()
		if skipped != 1 || len(invalid) != 1 {
			t.Errorf("%q: skipped %d invalid %q, want 1 and 1", name, skipped, invalid)
			continue
		}
		if !strings.HasPrefix(invalid[0], "accounts 42 avatar: ") || strings.ContainsAny(invalid[0], "\n\x00") {
			t.Errorf("%q: invalid message %q", name, invalid[0])
		}
		if len(got) != 1 || got[0].Attachment != "header" {
			t.Errorf("%q: objects %q, want the header only", name, objs(got))
		}
	}
}

// Dots inside a name are ordinary: only a whole ".." segment could climb.
func TestObjectsDotsInNameAreFine(t *testing.T) {
	rec := Record{Kind: Accounts, ID: 42, Files: []File{{Attachment: "avatar", FileName: "x..y.jpg", ContentType: "image/jpeg"}}}
	got, skipped, _ := rec.Objects()
	if skipped != 0 || len(got) != 1 || got[0].Key() != "accounts/avatars/000/000/042/original/x..y.jpg" {
		t.Errorf("got %v skipped %d", objs(got), skipped)
	}
}

func TestObjectsUnknownAttachment(t *testing.T) {
	rec := Record{Kind: Backups, ID: 1, Files: []File{{Attachment: "avatar", FileName: "x.zip"}}}
	got, skipped, invalid := rec.Objects()
	if len(got) != 0 || skipped != 1 || len(invalid) != 1 {
		t.Errorf("got %v skipped %d invalid %q", objs(got), skipped, invalid)
	}
}

func TestCandidatesHaveNoDuplicates(t *testing.T) {
	for _, k := range AllKinds {
		for _, remote := range []bool{false, true} {
			for _, v := range []int64{0, 1} {
				for _, name := range []string{"a.png", "a.jpg", "a", ".hidden", "a.b.gif"} {
					rec := Record{Kind: k, ID: 1, Remote: remote, Var: "favicon"}
					for _, a := range k.Attachments() {
						rec.Files = append(rec.Files, File{Attachment: a, FileName: name, ContentType: "image/gif", SchemaVersion: v})
					}
					got, _, _ := rec.Objects()
					for _, o := range got {
						seen := map[string]bool{}
						for _, c := range o.Candidates {
							if seen[c] {
								t.Errorf("%s: duplicate candidate %q", obj(o), c)
							}
							seen[c] = true
						}
						if len(o.Candidates) < 2 {
							t.Errorf("%s: fewer than 2 candidates", obj(o))
						}
					}
				}
			}
		}
	}
}

func TestStyleFileName(t *testing.T) {
	tests := []struct{ name, format, want string }{
		{"abc.mp4", "png", "abc.png"},
		{"abc.jpg", "", "abc.jpg"},
		{"a.b.gif", "png", "a.b.png"},
		{"abc", "png", "abc.png"},
		{"abc", "", "abc"},
		{".hidden", "png", ".hidden.png"},
		{"abc.", "png", "abc.png"},
	}
	for _, tt := range tests {
		if got := styleFileName(tt.name, tt.format); got != tt.want {
			t.Errorf("styleFileName(%q, %q) = %q, want %q", tt.name, tt.format, got, tt.want)
		}
	}
}
