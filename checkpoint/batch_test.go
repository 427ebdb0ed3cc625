package checkpoint

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMergeLargeUnsortedBatchRoundTrips covers Merge's shared key and value buffers: one
// transaction of thousands of objects, arriving out of order with duplicates and candidates of
// very different lengths (so the value buffer outgrows its estimate), must store every object
// exactly as given, with counters that match a recount.
func TestMergeLargeUnsortedBatchRoundTrips(t *testing.T) {
	db := openTemp(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var objs []Object
	for i := 0; i < 3000; i++ {
		o := obj("media_attachments", int64(1+rng.IntN(2500)), []string{"original", "small"}[i%2])
		o.Candidates[0] += strings.Repeat("x", rng.IntN(300))
		o.Size = int64(i)
		objs = append(objs, o)
	}
	// The last of each duplicate ID wins.
	want := map[string]Object{}
	for _, o := range objs {
		want[o.ID()] = o
	}
	added, known, err := db.Merge(objs)
	if err != nil {
		t.Fatal(err)
	}
	if added != len(want) || known != 0 {
		t.Fatalf("added %d, known %d; want %d and 0", added, known, len(want))
	}
	for id, w := range want {
		got, ok, err := db.Get(id)
		if err != nil || !ok {
			t.Fatalf("Get(%s) = %v, %v", id, ok, err)
		}
		if !slices.Equal(got.Candidates, w.Candidates) || got.Size != w.Size || got.Status != Pending {
			t.Fatalf("Get(%s) = %+v, want candidates %q size %d pending", id, got, w.Candidates, w.Size)
		}
	}
	// Apply shares the value buffer too: move half to done in one transaction.
	var ups []Update
	for id := range want {
		if len(ups) == len(want)/2 {
			break
		}
		ups = append(ups, Update{ID: id, Status: Done, Bytes: 7, SourceKey: want[id].Candidates[0], Attempts: 1})
	}
	if err := db.Apply(ups); err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		got, _, _ := db.Get(u.ID)
		if got.Status != Done || got.Bytes != 7 || got.SourceKey != u.SourceKey {
			t.Fatalf("after Apply, Get(%s) = %+v", u.ID, got)
		}
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	counts, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if c := counts["media_attachments"]; c[Done].Objects != int64(len(ups)) || c[Pending].Objects != int64(len(want)-len(ups)) {
		t.Fatalf("counts = %v, want %d done and %d pending", c, len(ups), len(want)-len(ups))
	}
}
