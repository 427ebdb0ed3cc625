package checkpoint

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodingRoundTrip(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	key := "media_attachments/files/109/876/543/210/987/654/small/abc.jpeg"
	for _, o := range []Object{
		{Kind: "accounts", RecordID: 1, Attachment: "avatar", Style: "original"},
		{
			Kind: "media_attachments", RecordID: 109876543210987654, Attachment: "file", Style: "small",
			Candidates:  []string{key, "cache/" + key, strings.TrimSuffix(key, ".jpeg") + ".png", "cache/" + strings.TrimSuffix(key, ".jpeg") + ".png"},
			Size:        1 << 40,
			ContentType: "image/jpeg",
			Remote:      true,
			Status:      Failed,
			Attempts:    7,
			Error:       "get: 503 SlowDown",
			Bytes:       -1,
			SourceKey:   "cache/" + key,
			CreatedAt:   now,
			UpdatedAt:   now.Add(time.Hour),
		},
		{Kind: "k", RecordID: -3, Attachment: "a", Style: "s", Candidates: []string{"", "", "x", "", "xx"}, Status: Missing, SourceKey: "elsewhere"},
		{Kind: "k", RecordID: 4, Attachment: "a", Style: "s", Candidates: []string{"x", "y"}, SourceKey: "y", Status: Done},
		{Kind: "k", RecordID: 3, Attachment: "a", Style: "s", Candidates: []string{"aaaa", "aa", "aaaaaa", "abab", "ba"}, Status: Done},
	} {
		v := appendObject(nil, o)
		got, err := decodeObject([]byte(o.ID()), v)
		if err != nil {
			t.Fatalf("decode %s: %v", o.ID(), err)
		}
		if o.Status == "" {
			o.Status = Pending
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, o)
		}
		if len(o.Candidates) == 4 {
			t.Logf("%d candidates (%d bytes of keys) encode in %d bytes", len(o.Candidates), 2*len(key)+2*(len(key)-1)+6, len(v))
		}
	}
}

func TestEncodingRandomCandidates(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	alpha := "ab/."
	str := func() string {
		b := make([]byte, rnd.Intn(12))
		for i := range b {
			b[i] = alpha[rnd.Intn(len(alpha))]
		}
		return string(b)
	}
	for i := 0; i < 5000; i++ {
		o := Object{Kind: "k", RecordID: int64(i), Attachment: "a", Style: "s", Status: Pending}
		for j := rnd.Intn(6); j > 0; j-- {
			o.Candidates = append(o.Candidates, str())
		}
		got, err := decodeObject([]byte(o.ID()), appendObject(nil, o))
		if err != nil || !reflect.DeepEqual(got.Candidates, o.Candidates) {
			t.Fatalf("candidates %q decoded as %q, %v", o.Candidates, got.Candidates, err)
		}
	}
}

func TestDecodeRejectsTruncated(t *testing.T) {
	o := obj("accounts", 5, "original")
	o.Status = Done
	o.Error = "e"
	v := appendObject(nil, o)
	for n := 0; n < len(v); n++ {
		if _, err := decodeObject([]byte(o.ID()), v[:n]); err == nil {
			t.Errorf("decode of %d/%d bytes succeeded", n, len(v))
		}
	}
	if _, err := decodeObject([]byte(o.ID()), append(v, 0)); err == nil {
		t.Error("decode with a trailing byte succeeded")
	}
}

func FuzzDecodeObject(f *testing.F) {
	o := obj("accounts", 5, "original")
	f.Add(appendObject(nil, o))
	o.Candidates = append(o.Candidates, "x", "accounts/y.png")
	f.Add(appendObject(nil, o))
	f.Add([]byte{1, 0, 0, 3, 0, 5, 0, 0, 0})
	id := []byte(o.ID())
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := decodeObject(id, v)
		if err != nil {
			return
		}
		again, err := decodeObject(id, appendObject(nil, got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encoding %+v: %+v, %v", got, again, err)
		}
	})
}
