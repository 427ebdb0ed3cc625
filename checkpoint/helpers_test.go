package checkpoint

import (
	"fmt"
	"path/filepath"
	"testing"
)

// openTemp opens a new writable checkpoint in t.TempDir and closes it when the test ends.
func openTemp(tb testing.TB) *DB {
	tb.Helper()
	return mustOpen(tb, filepath.Join(tb.TempDir(), "s3sync.db"), Options{})
}

// mustOpen opens path and closes the checkpoint when the test ends.
func mustOpen(tb testing.TB, path string, opts Options) *DB {
	tb.Helper()
	db, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// obj returns a plausible object of kind with the given record id and style.
func obj(kind string, id int64, style string) Object {
	key := fmt.Sprintf("%s/files/%09d/%s/f%d.jpg", kind, id, style, id)
	return Object{
		Kind: kind, RecordID: id, Attachment: "file", Style: style,
		Candidates:  []string{key, "cache/" + key},
		Size:        1000 + id,
		ContentType: "image/jpeg",
	}
}

// objs returns n objects of kind with record ids from first on, style "original".
func objs(kind string, first int64, n int) []Object {
	out := make([]Object, n)
	for i := range out {
		out[i] = obj(kind, first+int64(i), "original")
	}
	return out
}

func mustMerge(tb testing.TB, db *DB, o []Object) (added, known int) {
	tb.Helper()
	added, known, err := db.Merge(o)
	if err != nil {
		tb.Fatalf("Merge: %v", err)
	}
	return added, known
}

func mustApply(tb testing.TB, db *DB, u ...Update) {
	tb.Helper()
	if err := db.Apply(u); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

func mustGet(tb testing.TB, db *DB, id string) Object {
	tb.Helper()
	o, ok, err := db.Get(id)
	if err != nil || !ok {
		tb.Fatalf("Get(%s) = ok %t, err %v", id, ok, err)
	}
	return o
}

// ids returns the IDs of objs.
func ids(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID()
	}
	return out
}

// checkConsistent fails the test unless the counters equal a recount and Verify passes.
func checkConsistent(tb testing.TB, db *DB) {
	tb.Helper()
	counts, err := db.Counts()
	if err != nil {
		tb.Fatalf("Counts: %v", err)
	}
	re, err := db.Recount()
	if err != nil {
		tb.Fatalf("Recount: %v", err)
	}
	if !equalCounts(counts, re) {
		tb.Fatalf("Counts = %v, Recount = %v", counts, re)
	}
	if err := db.Verify(); err != nil {
		tb.Fatal(err)
	}
}
