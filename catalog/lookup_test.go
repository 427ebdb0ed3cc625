package catalog

import "testing"

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		ok     bool
		kind   Kind
		lo, hi int64
		remote bool
	}{
		{"media_attachments/files/000/000/007/original/a.jpg", true, MediaAttachments, 7, 7, false},
		{"cache/accounts/avatars/109/999/999/999/999/999/original/x.png", true, Accounts, 109999999999999999, 109999999999999999, true},
		{"accounts/avatars/123/456/789/original/r.png", true, Accounts, 123456789, 123456789, false},
		// Paperclip 6 (Mastodon 3.4 and older) dropped the last digit of a 10-digit id, the
		// last two of an 11-digit one; kt-paperclip pads those to 12 digits.
		{"media_attachments/files/123/456/789/original/r.png", true, MediaAttachments, 123456789, 1234567899, false},
		{"media_attachments/files/123/456/789/original/r.png", true, MediaAttachments, 123456789, 12345678999, false},
		{"accounts/avatars/001/234/567/890/original/r.png", true, Accounts, 1234567890, 1234567890, false},
		{"accounts/avatars/012/345/678/901/original/r.png", true, Accounts, 12345678901, 12345678901, false},
		// A 13-digit id loses its last digit under kt-paperclip; a 17-digit one its last two.
		{"accounts/avatars/123/456/789/012/original/r.png", true, Accounts, 123456789012, 1234567890129, false},
		{"accounts/avatars/123/456/789/012/345/original/r.png", true, Accounts, 123456789012345, 12345678901234599, false},
		{"site_uploads/files/000/000/001/@1x/t.png", true, SiteUploads, 1, 1, false},
		{"backup.tar.gz", false, "", 0, 0, false},
		{"media_attachments/nope/000/000/007/original/a.jpg", false, "", 0, 0, false},
		{"statuses/files/000/000/007/original/a.jpg", false, "", 0, 0, false},
	} {
		kr, ok := ParseKey(tc.key)
		covers := false
		for _, r := range kr.Ranges {
			covers = covers || (r[0] <= tc.hi && tc.hi <= r[1])
		}
		if ok != tc.ok || (ok && (kr.Kind != tc.kind || kr.Ranges[0][0] != tc.lo || !covers || kr.Remote != tc.remote)) {
			t.Errorf("ParseKey(%q) = %+v, %v", tc.key, kr, ok)
		}
	}
}
