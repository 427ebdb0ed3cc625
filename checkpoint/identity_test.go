package checkpoint

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestIdentityRecordedAndReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := db.Identity(); err != nil || id != (Identity{}) {
		t.Fatalf("new checkpoint: Identity() = %+v, %v; want empty", id, err)
	}
	if err := db.SetIdentity(Identity{Source: "src", Destination: "dst"}); err != nil {
		t.Fatal(err)
	}
	// An empty field keeps what is recorded.
	if err := db.SetIdentity(Identity{Shard: "1/4"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := db.AddCopyRun(); err != nil {
			t.Fatal(err)
		}
	}
	planned := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if err := db.SetPlannedAt(planned); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWatermark("accounts", "42"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = mustOpen(t, path, Options{ReadOnly: true})
	want := Identity{Source: "src", Destination: "dst", Shard: "1/4"}
	if id, err := db.Identity(); err != nil || id != want {
		t.Errorf("Identity() = %+v, %v; want %+v", id, err, want)
	}
	if n, err := db.CopyRuns(); err != nil || n != 3 {
		t.Errorf("CopyRuns() = %d, %v; want 3", n, err)
	}
	if at, err := db.PlannedAt(); err != nil || !at.Equal(planned) {
		t.Errorf("PlannedAt() = %v, %v; want %v", at, err, planned)
	}
	if wm, err := db.Watermark("accounts"); err != nil || wm != "42" {
		t.Errorf("Watermark(accounts) = %q, %v; want 42", wm, err)
	}
	if wm, _ := db.Watermark("backups"); wm != "" {
		t.Errorf("Watermark(backups) = %q; want none", wm)
	}
}

func TestOpenSet(t *testing.T) {
	dir := t.TempDir()
	create := func(name string, id Identity) string {
		path := filepath.Join(dir, name)
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.SetIdentity(id); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := create("a.db", Identity{Source: "s", Destination: "d", Shard: "0/2"})
	b := create("b.db", Identity{Source: "s", Destination: "d", Shard: "1/2"})
	b2 := create("b2.db", Identity{Source: "s", Destination: "d", Shard: "1/2"})
	other := create("other.db", Identity{Source: "s", Destination: "elsewhere", Shard: "1/2"})
	locate := func(id Identity) string { return id.Source + " → " + id.Destination }
	ro := Options{ReadOnly: true}

	dbs, err := OpenSet([]string{a, b}, ro, locate)
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	if err != nil || len(dbs) != 2 {
		t.Fatalf("OpenSet(a, b) = %d, %v; want 2 checkpoints", len(dbs), err)
	}
	closeAll()

	for _, tc := range []struct {
		name  string
		paths []string
		field string
	}{
		{"given twice", []string{a, b, a}, "file"},
		{"same shard", []string{a, b, b2}, "shard"},
		{"other migration", []string{a, other}, "migration"},
	} {
		dbs, err = OpenSet(tc.paths, ro, locate)
		closeAll()
		var se *SetError
		if !errors.As(err, &se) || se.Field != tc.field {
			t.Errorf("%s: OpenSet = %v; want a SetError on %s", tc.name, err, tc.field)
		}
	}
	if se := (&SetError{Path: other, Other: a, Field: "migration", Have: "s → elsewhere", Want: "s → d"}); se.Error() !=
		"checkpoints "+a+" and "+other+" belong to different migrations (s → d; s → elsewhere)" {
		t.Errorf("SetError message: %s", se)
	}
	dbs, err = OpenSet([]string{a, filepath.Join(dir, "none.db")}, ro, locate)
	closeAll()
	if !errors.Is(err, ErrNotExist) {
		t.Errorf("OpenSet with a missing file = %v; want ErrNotExist", err)
	}
}

func TestCountsSums(t *testing.T) {
	c := Counts{
		"accounts":          {Done: {2, 20}, Failed: {1, 5}},
		"media_attachments": {Done: {3, 300}, Pending: {4, 40}},
	}
	if got := c.Sum(Done); got != (Count{5, 320}) {
		t.Errorf("Sum(Done) = %+v; want {5 320}", got)
	}
	if got := c.Sum(Done, "accounts"); got != (Count{2, 20}) {
		t.Errorf("Sum(Done, accounts) = %+v; want {2 20}", got)
	}
	if got := c.Sum(Missing); got != (Count{}) {
		t.Errorf("Sum(Missing) = %+v; want zero", got)
	}
	by := c.ByStatus("media_attachments", "backups")
	if by[Done] != (Count{3, 300}) || by[Pending] != (Count{4, 40}) || len(by) != 2 {
		t.Errorf("ByStatus(media_attachments, backups) = %+v", by)
	}
	m := Merge(c, Counts{"accounts": {Done: {1, 1}}, "backups": {Missing: {1, 9}}})
	if m["accounts"][Done] != (Count{3, 21}) || m["backups"][Missing] != (Count{1, 9}) || m["media_attachments"][Pending] != (Count{4, 40}) {
		t.Errorf("Merge = %+v", m)
	}
	if c["accounts"][Done] != (Count{2, 20}) {
		t.Errorf("Merge changed its argument: %+v", c)
	}
	if !c.Equal(Counts{"accounts": {Done: {2, 20}, Failed: {1, 5}, Missing: {}}, "media_attachments": {Done: {3, 300}, Pending: {4, 40}}}) {
		t.Error("Equal: a zero pair should count as absent")
	}
	if c.Equal(m) {
		t.Error("Equal(c, m) = true")
	}
}
