package catalog

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in   string
		want []Kind
	}{
		{"", AllKinds},
		{"  ", AllKinds},
		{",", AllKinds},
		{"accounts", []Kind{Accounts}},
		{"custom_emojis, accounts", []Kind{Accounts, CustomEmojis}},
		{"backups,media_attachments,backups", []Kind{MediaAttachments, Backups}},
		{"Preview_Cards", []Kind{PreviewCards}},
		{"site_uploads,,preview_card_providers,", []Kind{SiteUploads, PreviewCardProviders}},
	}
	for _, tt := range tests {
		got, err := ParseKinds(tt.in)
		if err != nil {
			t.Errorf("ParseKinds(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseKinds(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseKindsResultIsACopy(t *testing.T) {
	got, _ := ParseKinds("")
	got[0] = "changed"
	if AllKinds[0] != MediaAttachments {
		t.Fatal("ParseKinds returned AllKinds itself")
	}
}

func TestParseKindsUnknown(t *testing.T) {
	_, err := ParseKinds("accounts,statuses")
	if err == nil {
		t.Fatal("no error for an unknown kind")
	}
	msg := err.Error()
	if !strings.Contains(msg, `"statuses"`) {
		t.Errorf("error %q does not name the bad value", msg)
	}
	for _, k := range AllKinds {
		if !strings.Contains(msg, string(k)) {
			t.Errorf("error %q does not list %s", msg, k)
		}
	}
}

func TestKindAttachments(t *testing.T) {
	want := map[Kind][]string{
		MediaAttachments:     {"file", "thumbnail"},
		Accounts:             {"avatar", "header"},
		CustomEmojis:         {"image"},
		PreviewCards:         {"image"},
		SiteUploads:          {"file"},
		PreviewCardProviders: {"icon"},
		Backups:              {"dump"},
	}
	if len(AllKinds) != len(want) {
		t.Fatalf("AllKinds has %d kinds, want %d", len(AllKinds), len(want))
	}
	for _, k := range AllKinds {
		if !k.Valid() || k.Table() != string(k) {
			t.Errorf("%s: Valid %v, Table %q", k, k.Valid(), k.Table())
		}
		if got := k.Attachments(); !reflect.DeepEqual(got, want[k]) {
			t.Errorf("%s.Attachments() = %v, want %v", k, got, want[k])
		}
	}
	if Kind("statuses").Valid() || Kind("statuses").Attachments() != nil {
		t.Error("statuses is not a kind")
	}
}
