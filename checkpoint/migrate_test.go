package checkpoint

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A format 2 checkpoint wrote a done object under the candidate it found at the source; opened
// writable by this version, such an object is Pending again so that copy --resume writes it
// where Mastodon asks for it, and the file is format 3. Done objects found under their first
// candidate keep their state.
func TestMigrateV2RequeuesCopiesUnderFallbackKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := objs("media_attachments", 1, 3)
	mustMerge(t, db, in)
	mustApply(t, db,
		Update{ID: in[0].ID(), Status: Done, Bytes: 5, SourceKey: in[0].Candidates[0], Attempts: 1},
		Update{ID: in[1].ID(), Status: Done, Bytes: 6, SourceKey: in[1].Candidates[1], Attempts: 1},
	)
	err = db.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte(formatV2))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of format 2: %v", err)
	}
	if o := mustGet(t, ro, in[1].ID()); o.Status != Done {
		t.Errorf("read-only open changed the object: %+v", o)
	}
	ro.Close()

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("writable open of format 2: %v", err)
	}
	defer db.Close()
	if v, _ := db.GetMeta(MetaFormat); v != FormatVersion {
		t.Errorf("format after migration = %q", v)
	}
	if o := mustGet(t, db, in[0].ID()); o.Status != Done || o.Bytes != 5 {
		t.Errorf("object copied to its first candidate: %+v", o)
	}
	if o := mustGet(t, db, in[1].ID()); o.Status != Pending || o.SourceKey != "" || o.Bytes != 0 || o.Error == "" {
		t.Errorf("object copied to a fallback key: %+v", o)
	}
	checkConsistent(t, db)
}
