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
		// A 10-digit id loses its last digit; a 17-digit one its last two.
		{"media_attachments/files/123/456/789/original/r.png", true, MediaAttachments, 123456789, 1234567899, false},
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

func TestMastodonRelease(t *testing.T) {
	for mig, want := range map[string]string{
		"20200119112504": "3.1",
		"20241002184512": "4.3",
		"20230907150100": "4.2",
		"20991231000000": "",
		"":               "",
	} {
		if got := MastodonRelease(mig); got != want {
			t.Errorf("MastodonRelease(%q) = %q, want %q", mig, got, want)
		}
	}
}
