package checkpoint

import "testing"

// FoundCounts counts the objects that are done and Found now: an object that leaves done, or
// is done again by a copy, no longer counts; the flag survives a reopen.
func TestFoundCounts(t *testing.T) {
	db := openTemp(t)
	o := objs("media_attachments", 1, 3)
	p := obj("preview_cards", 9, "original")
	mustMerge(t, db, append(o, p))
	if got, err := db.FoundCounts(); err != nil || len(got) != 0 {
		t.Fatalf("new checkpoint: %v %v", got, err)
	}
	mustApply(t, db,
		Update{ID: o[0].ID(), Status: Done, Found: true},
		Update{ID: o[1].ID(), Status: Done, Found: true},
		Update{ID: o[2].ID(), Status: Done, Bytes: 10},
		Update{ID: p.ID(), Status: Done, Found: true},
	)
	got, err := db.FoundCounts()
	if err != nil || got["media_attachments"] != 2 || got["preview_cards"] != 1 {
		t.Fatalf("FoundCounts = %v, %v; want media_attachments 2, preview_cards 1", got, err)
	}
	if o1, _, _ := db.Get(o[0].ID()); !o1.Found {
		t.Error("the Found flag was not stored")
	}
	// One goes back to pending, one is copied after all.
	mustApply(t, db, Update{ID: o[0].ID(), Status: Pending}, Update{ID: p.ID(), Status: Done, Bytes: 5})
	if got, _ := db.FoundCounts(); got["media_attachments"] != 1 || got["preview_cards"] != 0 {
		t.Errorf("after a requeue and a copy: %v; want media_attachments 1", got)
	}
	if err := db.Verify(); err != nil {
		t.Error(err)
	}
}
