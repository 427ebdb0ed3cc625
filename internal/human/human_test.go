package human

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"50M": 50 << 20, "800k": 800 << 10, "1G": 1 << 30, "1048576": 1 << 20, "1.5M": 3 << 19, "10MiB": 10 << 20, "2MB/s": 2 << 20} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "-5M", "0", "M"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestBytesAndETA(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 27 << 20: "27.0 MiB", 3 << 40: "3.0 TiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q; want %q", n, got, want)
		}
	}
	if got := ETA(3723.4); got != "1h2m3s" {
		t.Errorf("ETA(3723.4) = %q", got)
	}
	if got := ETA(-1); got != "unknown" {
		t.Errorf("ETA(-1) = %q", got)
	}
}
