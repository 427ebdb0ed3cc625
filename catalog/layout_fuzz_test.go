package catalog

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzObjects derives keys from arbitrary row values. Whatever the database holds, every
// candidate key stays inside its record's directory: [cache/]<class>/<attachment>/<id
// partition>/<style>/<file name>, with no empty, "." or ".." segment, no leading slash, valid
// UTF-8 and no control characters. `make test` runs the seeds; `make test-long` fuzzes.
func FuzzObjects(f *testing.F) {
	f.Add(uint8(0), int64(7), true, 0, "", "file", "a.jpg", "image/jpeg", int64(1), `{"original":{}}`)
	f.Add(uint8(1), int64(109999999999999999), false, 0, "", "avatar", "x.gif", "image/gif", int64(0), "")
	f.Add(uint8(4), int64(12345678901234567), false, 0, "favicon", "file", "f.ico", "image/x-icon", int64(0), "")
	f.Add(uint8(0), int64(1), true, 2, "", "file", "../../etc/passwd", "video/mp4", int64(1), "")
	f.Add(uint8(2), int64(-5), true, 0, "", "image", "/abs.png", "", int64(9), "")
	f.Add(uint8(0), int64(3), false, 1, "", "file", "nul\x00.mp4", "", int64(1), "null")
	f.Add(uint8(0), int64(3), false, 0, "", "file", strings.Repeat("é", 600)+".jpg", "", int64(1), "{")
	f.Add(uint8(3), int64(3), false, 0, "", "image", "bad\xff.png", "", int64(1), "")
	f.Fuzz(func(t *testing.T, kind uint8, id int64, remote bool, layout int, v, attachment, name, ct string, schema int64, _ string) {
		k := AllKinds[int(kind)%len(AllKinds)]
		layouts := []Layout{{}, Layout30, Layout35, Layout40, Layout42}
		rec := Record{Kind: k, ID: id, Remote: remote, Var: v, Layout: layouts[(layout%len(layouts)+len(layouts))%len(layouts)],
			Files: []File{{Attachment: attachment, FileName: name, ContentType: ct, SchemaVersion: schema}}}
		objs, skipped, invalid := rec.Objects()
		if len(objs) > 0 && skipped > 0 {
			t.Errorf("one file both planned and skipped")
		}
		if len(invalid) > skipped {
			t.Errorf("invalid %d > skipped %d", len(invalid), skipped)
		}
		for _, o := range objs {
			if len(o.Candidates) == 0 {
				t.Fatalf("object without candidates: %+v", o)
			}
			for _, key := range o.Candidates {
				checkKey(t, k, id, o.Style, key)
			}
		}
	})
}

func checkKey(t *testing.T, kind Kind, id int64, style, key string) {
	t.Helper()
	if !utf8.ValidString(key) {
		t.Fatalf("key %q is not UTF-8", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("key %q has a control character", key)
		}
	}
	rest := strings.TrimPrefix(key, "cache/")
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			t.Fatalf("key %q has segment %q", key, s)
		}
	}
	prefix := string(kind) + "/"
	if !strings.HasPrefix(rest, prefix) {
		t.Fatalf("key %q is not under %s", key, prefix)
	}
	for _, part := range []string{IDPartition(id), LegacyIDPartition(id)} {
		want := len(strings.Split(part, "/")) + 4 // class, attachment, partition…, style, name
		if len(segs) == want && strings.Contains(rest, "/"+part+"/"+style+"/") {
			return
		}
	}
	t.Fatalf("key %q: not <class>/<attachment>/<partition>/%s/<name> for id %d", key, style, id)
}
