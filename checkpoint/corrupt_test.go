package checkpoint

import (
	"errors"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// raw changes the file under the checkpoint's API, as damage would.
func raw(t *testing.T, db *DB, fn func(tx *bolt.Tx) error) {
	t.Helper()
	if err := db.bolt.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint with unreadable records, index entries that disagree with the records and
// wrong counters: reads stop at the damage with a RecordError naming the record;
// SetAsideCorrupt moves the unreadable records to the corrupt bucket and mends the rest, after
// which Verify passes and everything readable is as it was; Merge plans a set-aside ID again.
func TestSetAsideCorrupt(t *testing.T) {
	db := openTemp(t)
	all := append(objs("media_attachments", 1, 60), objs("accounts", 1, 40)...)
	mustMerge(t, db, all)
	var ups []Update
	for i, o := range all {
		switch i % 4 {
		case 1:
			ups = append(ups, Update{ID: o.ID(), Status: Done, Bytes: 7})
		case 2:
			ups = append(ups, Update{ID: o.ID(), Status: Failed, Error: "boom"})
		case 3:
			ups = append(ups, Update{ID: o.ID(), Status: Missing})
		}
	}
	mustApply(t, db, ups...)
	checkConsistent(t, db)
	before := map[string]Object{}
	if err := db.Each(Filter{}, func(o Object) error { before[o.ID()] = o; return nil }); err != nil {
		t.Fatal(err)
	}

	pendingID := all[40].ID() // media_attachments 41, pending
	doneID := all[65].ID()    // accounts 6, done
	wrongID := all[70].ID()   // accounts 11, failed: also listed as done
	danglingID := "media_attachments/00000000000000000999/file/original"
	garbageKey := "media_attachments/x"
	raw(t, db, func(tx *bolt.Tx) error {
		o := tx.Bucket(bucketObjects)
		if err := o.Put([]byte(pendingID), []byte("\x01\x09garbage")); err != nil {
			return err
		}
		v := slices.Clone(o.Get([]byte(doneID)))
		if err := o.Put([]byte(doneID), v[:len(v)/2]); err != nil {
			return err
		}
		if err := o.Put([]byte(garbageKey), appendObject(nil, all[0])); err != nil {
			return err
		}
		if err := tx.Bucket(statusBuckets[indexOf(Pending)]).Put([]byte(garbageKey), nil); err != nil {
			return err
		}
		if err := tx.Bucket(statusBuckets[indexOf(Pending)]).Put([]byte(danglingID), nil); err != nil {
			return err
		}
		if err := tx.Bucket(statusBuckets[indexOf(Done)]).Put([]byte(wrongID), nil); err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).Put([]byte(counterKey("accounts", Done)), make([]byte, 16))
	})

	var re *RecordError
	if err := db.Verify(); !errors.As(err, &re) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "--skip-corrupt") {
		t.Fatalf("Verify = %v, want a RecordError naming the way past it", err)
	}
	if _, err := db.NextPending("", []string{"media_attachments"}, 100); !errors.As(err, &re) || re.ID != pendingID {
		t.Errorf("NextPending = %v, want the RecordError of %s", err, pendingID)
	}
	if _, _, err := db.Get(doneID); !errors.As(err, &re) || re.ID != doneID || !strings.Contains(err.Error(), doneID) {
		t.Errorf("Get = %v", err)
	}
	if _, err := db.Requeue([]Status{Done}, []string{"accounts"}); !errors.As(err, &re) {
		t.Errorf("Requeue = %v", err)
	}

	rep, err := db.SetAsideCorrupt()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Records {
		got = append(got, string(r.Status)+" "+r.ID)
	}
	want := []string{"done " + doneID, "pending " + pendingID, "pending " + garbageKey} // in key order
	if !slices.Equal(got, want) || rep.IndexEntries != 2 || !rep.CountersFixed || rep.Objects != len(all)-2 {
		t.Errorf("SetAsideCorrupt = %v, %d index entries, counters fixed %t, %d objects; want %v, 2, true, %d",
			got, rep.IndexEntries, rep.CountersFixed, rep.Objects, want, len(all)-2)
	}
	checkConsistent(t, db)
	after := map[string]Object{}
	if err := db.Each(Filter{}, func(o Object) error { after[o.ID()] = o; return nil }); err != nil {
		t.Fatal(err)
	}
	delete(before, pendingID)
	delete(before, doneID)
	if len(after) != len(before) {
		t.Errorf("%d records left, want %d", len(after), len(before))
	}
	for id, o := range before {
		if a, ok := after[id]; !ok || a.Status != o.Status || a.Error != o.Error || !slices.Equal(a.Candidates, o.Candidates) {
			t.Errorf("%s changed: %+v, was %+v", id, a, o)
		}
	}
	recs, err := db.CorruptRecords()
	if err != nil || len(recs) != 3 || recs[1].ID != pendingID || recs[1].Reason != "malformed object value" || recs[1].Bytes != 9 ||
		recs[1].SetAside.IsZero() || recs[2].Reason != "malformed object id" {
		t.Errorf("CorruptRecords = %+v, %v", recs, err)
	}

	// Nothing more to do the second time.
	if rep, err := db.SetAsideCorrupt(); err != nil || len(rep.Records) != 0 || rep.IndexEntries != 0 || rep.CountersFixed {
		t.Errorf("second SetAsideCorrupt = %+v, %v", rep, err)
	}
	// plan planning the two again: they are pending, and no longer set aside.
	if added, _ := mustMerge(t, db, []Object{all[40], all[65]}); added != 2 {
		t.Errorf("Merge added %d, want 2", added)
	}
	if recs, _ := db.CorruptRecords(); len(recs) != 1 || recs[0].ID != garbageKey {
		t.Errorf("after Merge, set aside: %+v", recs)
	}
	if o := mustGet(t, db, doneID); o.Status != Pending {
		t.Errorf("%s: %s", doneID, o.Status)
	}
	checkConsistent(t, db)
}

// A first record that does not decode no longer keeps the file from opening (so that it can
// be set aside); Verify still finds it.
func TestOpenWithUnreadableFirstRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustMerge(t, db, objs("accounts", 1, 10))
	first := obj("accounts", 1, "original").ID()
	raw(t, db, func(tx *bolt.Tx) error { return tx.Bucket(bucketObjects).Put([]byte(first), []byte{1}) })
	db.Close()
	for _, ro := range []bool{true, false} {
		db, err := Open(path, Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("read-only %t: Open = %v", ro, err)
		}
		var re *RecordError
		if err := db.Verify(); !errors.As(err, &re) || re.ID != first {
			t.Errorf("read-only %t: Verify = %v", ro, err)
		}
		if !ro {
			if rep, err := db.SetAsideCorrupt(); err != nil || len(rep.Records) != 1 {
				t.Errorf("SetAsideCorrupt = %+v, %v", rep, err)
			}
			checkConsistent(t, db)
		}
		db.Close()
	}
}

// Page lists, by cursor, exactly what Each lists, in ID order, for any filter and page size.
func TestPage(t *testing.T) {
	db := openTemp(t)
	rnd := rand.New(rand.NewSource(3))
	var all []Object
	for _, kind := range []string{"accounts", "custom_emojis", "media_attachments", "media_attachments_x"} {
		all = append(all, objs(kind, 1, 300)...)
	}
	mustMerge(t, db, all)
	var ups []Update
	for _, o := range all {
		ups = append(ups, Update{ID: o.ID(), Status: AllStatuses[rnd.Intn(len(AllStatuses))]})
	}
	mustApply(t, db, ups...)
	for _, f := range []Filter{
		{},
		{Statuses: []Status{Failed, Missing}},
		{Statuses: []Status{Missing, Failed, Stale}, Kinds: []string{"media_attachments", "accounts"}},
		{Statuses: []Status{Done}, Kinds: []string{"media_attachments_x"}},
		{Kinds: []string{"backups"}},
	} {
		var want []string
		if err := db.Each(f, func(o Object) error { want = append(want, o.ID()); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		for _, n := range []int{1, 7, 1000} {
			var got []string
			after := ""
			for {
				page, more, err := db.Page(f, after, n)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > n || (more && len(page) != n) {
					t.Fatalf("%+v n=%d: page of %d, more %t", f, n, len(page), more)
				}
				for _, o := range page {
					got = append(got, o.ID())
				}
				if !more {
					break
				}
				after = page[len(page)-1].ID()
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v n=%d: %d objects, want %d", f, n, len(got), len(want))
			}
		}
		// From the middle, and past the end.
		if len(want) > 2 {
			page, _, _ := db.Page(f, want[len(want)/2], len(want))
			if len(page) != len(want)-len(want)/2-1 || page[0].ID() != want[len(want)/2+1] {
				t.Errorf("%+v from the middle: %d objects", f, len(page))
			}
		}
		if page, more, err := db.Page(f, "~", 10); len(page) != 0 || more || err != nil {
			t.Errorf("past the end: %d, %t, %v", len(page), more, err)
		}
	}
	if _, _, err := db.Page(Filter{Kinds: []string{"a/b"}}, "", 1); err == nil {
		t.Error("a bad kind was taken")
	}
}
