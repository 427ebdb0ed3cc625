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
