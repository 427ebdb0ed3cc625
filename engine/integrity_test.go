package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/checkpoint"
)

// A body corrupted between source and destination is refused by the destination (Content-MD5
// from the source's ETag) and copied again; it never becomes done with wrong bytes.
func TestCorruptedBodyIsCopiedAgain(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	src.etags = true
	src.objects["once"] = fakeObject{body: []byte("flipped on the first read only")}
	src.objects["always"] = fakeObject{body: []byte("flipped on every read")}
	src.corrupt = func(key string, attempt int) bool { return key == "always" || attempt == 1 }
	once, always := obj(1, "once"), obj(2, "always")
	db := newDB(t, once, always)
	if _, err := Copy(context.Background(), db, src, dst, fastOptions()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, once); got.Status != checkpoint.Done || got.Attempts != 2 {
		t.Errorf("once: %+v", got)
	}
	if string(dst.objects["once"].body) != "flipped on the first read only" {
		t.Errorf("destination holds %q", dst.objects["once"].body)
	}
	got := get(t, db, always)
	if got.Status != checkpoint.Failed || !strings.Contains(got.Error, "never arrived intact") || !strings.Contains(got.Error, "content_md5 = false") {
		t.Errorf("always: %+v", got)
	}
	if _, ok := dst.objects["always"]; ok {
		t.Error("a corrupted body was stored")
	}
}

func TestEtagMD5(t *testing.T) {
	for etag, want := range map[string]string{
		"9e107d9d372bb6826bd81d3542a419d6":   "nhB9nTcrtoJr2B01QqQZ1g==",
		`"9e107d9d372bb6826bd81d3542a419d6"`: "nhB9nTcrtoJr2B01QqQZ1g==",
		"9e107d9d372bb6826bd81d3542a419d6-3": "", // multipart
		"":                                   "",
		"not-hex-not-hex-not-hex-not-hex-xx": "",
	} {
		if got := etagMD5(etag); got != want {
			t.Errorf("etagMD5(%q) = %q, want %q", etag, got, want)
		}
	}
}
