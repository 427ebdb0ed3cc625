package text

import "testing"

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"plain":                        "plain",
		"  two\nlines\r\n\tand  tabs ": "two lines and tabs",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	got := Redact("password=hunter2 user=bob hunter2", "hunter2", "")
	if want := "password=[redacted] user=bob [redacted]"; got != want {
		t.Errorf("Redact = %q; want %q", got, want)
	}
}

func TestClip(t *testing.T) {
	if got := Clip("abcdef", 3); got != "abc..." {
		t.Errorf("Clip(abcdef, 3) = %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip(abc, 3) = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://s3.example.com":             "https://s3.example.com",
		"http://127.0.0.1:7070/":             "http://127.0.0.1:7070/",
		"https://user:secret@s3.example.com": "https://s3.example.com",
		"https://s3.example.com/?k=secret":   "https://s3.example.com/",
		"https://u:sec%zzret@h.example":      "https://…@h.example",
		"https://u:se/cr@et@h.example:99":    "https://…@h.example:99",
		"u:secret@h.example?x=secret":        "…@h.example",
		"u:secret@h.example:9000":            "…@h.example:9000",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHasUserInfo(t *testing.T) {
	for in, want := range map[string]bool{
		"https://s3.example.com":          false,
		"https://user@s3.example.com":     true,
		"https://u:sec%zzret@h.example":   true,
		"https://u:se/cr@et@h.example:99": true,
		"u:secret@h.example:9000":         true,
	} {
		if got := HasUserInfo(in); got != want {
			t.Errorf("HasUserInfo(%q) = %v, want %v", in, got, want)
		}
	}
}
