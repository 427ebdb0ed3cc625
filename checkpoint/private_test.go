package checkpoint

import "testing"

// Private is flag bit 1: it round-trips, a value written before the flag (bit clear) decodes as
// false, and Merge refreshes it on a known object without touching its status.
func TestPrivateFlag(t *testing.T) {
	o := obj("media_attachments", 7, "original")
	o.Remote, o.Private = true, true
	id := []byte(o.ID())
	v := appendObject(nil, o)
	if v[2] != 3 {
		t.Fatalf("flags byte = %d, want 3", v[2])
	}
	got, err := decodeObject(id, v)
	if err != nil || !got.Private || !got.Remote {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	v[2] = 1 // as an older s3sync wrote it
	if got, err := decodeObject(id, v); err != nil || got.Private || !got.Remote {
		t.Fatalf("decode without the bit: %+v, %v", got, err)
	}

	db := openTemp(t)
	o.Private = false
	mustMerge(t, db, []Object{o})
	mustApply(t, db, Update{ID: o.ID(), Status: Done, Bytes: 1, Attempts: 1})
	o.Private = true // the account was suspended since
	mustMerge(t, db, []Object{o})
	if g := mustGet(t, db, o.ID()); !g.Private || g.Status != Done {
		t.Fatalf("after merge: Private %v, status %s; want true, done", g.Private, g.Status)
	}
	checkConsistent(t, db)
}
