package checkpoint

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db := mustOpen(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if v, err := db.GetMeta(MetaFormat); err != nil || v != FormatVersion {
		t.Errorf("GetMeta(format) = %q, %v", v, err)
	}
}

func TestOpenChmodsExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := objs("accounts", 1, 10)
	mustMerge(t, db, in)
	mustApply(t, db, Update{ID: in[3].ID(), Status: Done, Bytes: 42, SourceKey: in[3].Candidates[1], Attempts: 1})
	if err := db.SetMeta("source", "bucket-a"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, ro := range []bool{false, true} {
		db, err := Open(path, Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("reopen (read-only %t): %v", ro, err)
		}
		o := mustGet(t, db, in[3].ID())
		if o.Status != Done || o.Bytes != 42 || o.SourceKey != in[3].Candidates[1] || o.Attempts != 1 {
			t.Errorf("read-only %t: object after reopen = %+v", ro, o)
		}
		if v, _ := db.GetMeta("source"); v != "bucket-a" {
			t.Errorf("read-only %t: meta source = %q", ro, v)
		}
		checkConsistent(t, db)
		db.Close()
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	mustOpen(t, path, Options{})

	for _, ro := range []bool{false, true} {
		start := time.Now()
		db, err := Open(path, Options{Timeout: 50 * time.Millisecond, ReadOnly: ro})
		if err == nil {
			db.Close()
			t.Fatalf("second Open (read-only %t) succeeded", ro)
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("second Open (read-only %t) = %v, want ErrLocked", ro, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("second Open took %v", d)
		}
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	_, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, ErrNotExist) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open = %v, want ErrNotExist and os.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "s3sync plan") {
		t.Errorf("error %q does not say to run s3sync plan", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Open created the file")
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := objs("accounts", 1, 3)
	mustMerge(t, db, in)
	db.Close()

	ro := mustOpen(t, path, Options{ReadOnly: true})
	if _, _, err := ro.Merge(in); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Merge = %v, want ErrReadOnly", err)
	}
	if err := ro.Apply([]Update{{ID: in[0].ID(), Status: Done}}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Apply = %v, want ErrReadOnly", err)
	}
	if err := ro.SetMeta("x", "y"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SetMeta = %v, want ErrReadOnly", err)
	}
	if _, err := ro.Requeue([]Status{Failed}, nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Requeue = %v, want ErrReadOnly", err)
	}
	got, err := ro.NextPending("", nil, 10)
	if err != nil || len(got) != 3 {
		t.Errorf("NextPending = %d objects, %v", len(got), err)
	}
}

// expectCorrupt opens path writable and read-only and wants ErrCorrupt from Open or, if the
// damage is past what Open reads, from a full read.
func expectCorrupt(t *testing.T, path string) {
	t.Helper()
	for _, ro := range []bool{true, false} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("read-only %t: panic: %v", ro, r)
				}
			}()
			db, err := Open(path, Options{ReadOnly: ro, Timeout: time.Second})
			if err == nil {
				defer db.Close()
				err = db.Verify()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("read-only %t: got %v, want ErrCorrupt", ro, err)
			}
			t.Logf("read-only %t: %v", ro, err)
		}()
	}
}

func TestOpenGarbage(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewSource(1))
	big := make([]byte, 64<<10)
	rnd.Read(big)
	for name, data := range map[string][]byte{
		"empty":  {},
		"short":  []byte("hello, world\n"),
		"random": big,
		"sqlite": append([]byte("SQLite format 3\x00"), big[:8192]...),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			expectCorrupt(t, path)
		})
	}
}

// writeCheckpoint creates a checkpoint holding n objects and returns its path, closed.
func writeCheckpoint(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s3sync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if _, _, err := db.Merge(objs("media_attachments", int64(i), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenTruncated(t *testing.T) {
	path := writeCheckpoint(t, 5000)
	// bbolt grows the file ahead of use: cut from the end of the used pages, not of the file.
	var used int64
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	bdb.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	bdb.Close()
	for _, size := range []int64{used / 2, used - 4096, 3 * 4096, 5000, 100} {
		cp := filepath.Join(t.TempDir(), "cut.db")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp, data[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("truncated %d used bytes → %d", used, size)
		expectCorrupt(t, cp)
	}
}

func TestOpenDamagedPages(t *testing.T) {
	path := writeCheckpoint(t, 5000)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(2))
	const page = 4096
	for i := 0; i < 5; i++ {
		dmg := append([]byte(nil), data...)
		// Keep the two meta pages; scribble over the rest.
		for j := 0; j < 40; j++ {
			off := 2*page + rnd.Intn(len(dmg)-2*page-64)
			rnd.Read(dmg[off : off+64])
		}
		cp := filepath.Join(t.TempDir(), "damaged.db")
		if err := os.WriteFile(cp, dmg, 0o600); err != nil {
			t.Fatal(err)
		}
		expectCorrupt(t, cp)
	}
}

func TestOpenWrongFormat(t *testing.T) {
	path := writeCheckpoint(t, 10)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte("9"))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"9"`) {
		t.Fatalf("Open = %v, want ErrCorrupt naming version 9", err)
	}
}

func TestOpenForeignBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	expectCorrupt(t, path)
}

func TestMeta(t *testing.T) {
	db := openTemp(t)
	if v, err := db.GetMeta("absent"); err != nil || v != "" {
		t.Errorf("GetMeta(absent) = %q, %v", v, err)
	}
	if err := db.SetMeta("copy_runs", "3"); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.GetMeta("copy_runs"); v != "3" {
		t.Errorf("GetMeta = %q", v)
	}
	if err := db.SetMeta(MetaFormat, "9"); err == nil {
		t.Error("SetMeta(format) succeeded")
	}
	if err := db.SetMeta("", "x"); err == nil {
		t.Error("SetMeta(\"\") succeeded")
	}
}
