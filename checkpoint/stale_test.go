package checkpoint

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A Done object whose record got a new file starts over as Pending and leaves a Stale object
// for the old file; a Pending one is just refreshed; a Stale one found again is Pending.
func TestMergeReplacedFile(t *testing.T) {
	db := openTemp(t)
	in := objs("accounts", 1, 3)
	mustMerge(t, db, in)
	mustApply(t, db, Update{ID: in[0].ID(), Status: Done, Bytes: 500, SourceKey: in[0].Candidates[0], Attempts: 1})

	again := objs("accounts", 1, 3)
	for i := range again[:2] {
		again[i].Candidates = []string{"accounts/new.jpg"}
	}
	mustMerge(t, db, again)
	o := mustGet(t, db, in[0].ID())
	if o.Status != Pending || o.Bytes != 0 || o.SourceKey != "" || o.Candidates[0] != "accounts/new.jpg" {
		t.Errorf("replaced done object = %+v", o)
	}
	gone := in[0]
	gone.Style = "original~f1.jpg"
	g := mustGet(t, db, gone.ID())
	if g.Status != Stale || g.Bytes != 500 || g.Candidates[0] != in[0].Candidates[0] {
		t.Errorf("stale sibling = %+v", g)
	}
	if o := mustGet(t, db, in[1].ID()); o.Status != Pending {
		t.Errorf("replaced pending object = %+v", o)
	}
	// Merging the same again changes nothing: no second sibling.
	mustMerge(t, db, again)
	checkConsistent(t, db)
	counts, _ := db.Counts()
	if c := counts["accounts"][Stale]; c.Objects != 1 {
		t.Errorf("stale = %+v, want 1", c)
	}

	// MarkStale, then found again.
	n, err := db.MarkStale("accounts", -1, -1, map[string]bool{in[0].ID(): true, in[1].ID(): true})
	if err != nil || n != 1 {
		t.Fatalf("MarkStale = %d, %v; want 1", n, err)
	}
	if o := mustGet(t, db, in[2].ID()); o.Status != Stale {
		t.Errorf("unreferenced object = %+v", o)
	}
	mustMerge(t, db, again[2:])
	if o := mustGet(t, db, in[2].ID()); o.Status != Pending {
		t.Errorf("object found again = %+v", o)
	}
	checkConsistent(t, db)
}

// MarkStale touches only the id range (after, upTo] of its kind.
func TestMarkStaleRange(t *testing.T) {
	db := openTemp(t)
	mustMerge(t, db, objs("accounts", 1, 10))
	mustMerge(t, db, objs("backups", 1, 10))
	n, err := db.MarkStale("accounts", 3, 6, nil)
	if err != nil || n != 3 {
		t.Fatalf("MarkStale(3, 6] = %d, %v", n, err)
	}
	for id := int64(1); id <= 10; id++ {
		want := Pending
		if id > 3 && id <= 6 {
			want = Stale
		}
		if o := mustGet(t, db, obj("accounts", id, "original").ID()); o.Status != want {
			t.Errorf("accounts %d = %s, want %s", id, o.Status, want)
		}
	}
	n, err = db.MarkStale("accounts", 8, -1, nil)
	if err != nil || n != 2 {
		t.Fatalf("MarkStale(8, ∞) = %d, %v", n, err)
	}
	var stale []string
	if err := db.Each(Filter{Statuses: []Status{Stale}}, func(o Object) error { stale = append(stale, o.ID()); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(stale) != 5 {
		t.Errorf("stale objects = %v", stale)
	}
	checkConsistent(t, db)
}

// A format 1 checkpoint (no stale index) opens read-only as it is, and writable is migrated.
func TestOpenMigratesFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustMerge(t, db, objs("accounts", 1, 3))
	db.Close()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("status/stale")); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte("1"))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of format 1: %v", err)
	}
	n := 0
	if err := ro.Each(Filter{Statuses: []Status{Stale, Pending}}, func(Object) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("Each on format 1 = %d, %v", n, err)
	}
	if err := ro.Verify(); err != nil {
		t.Errorf("Verify on format 1: %v", err)
	}
	ro.Close()

	rw, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("writable open of format 1: %v", err)
	}
	defer rw.Close()
	if v, _ := rw.GetMeta(MetaFormat); v != FormatVersion {
		t.Errorf("format after migration = %q", v)
	}
	if n, err := rw.MarkStale("accounts", -1, -1, nil); err != nil || n != 3 {
		t.Errorf("MarkStale after migration = %d, %v", n, err)
	}
	checkConsistent(t, rw)
	if _, err := ParseStatuses("stale,bogus"); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("ParseStatuses(bogus) = %v", err)
	}
}
