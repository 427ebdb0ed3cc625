package main

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
)

// damageRecord overwrites the stored value of one object record of the sandbox's checkpoint
// with what damage makes of it, as a bad sector or a stray write would: the file stays a valid
// bbolt file, only that record no longer decodes.
func (s *sandbox) damageRecord(id string, damage func([]byte) []byte) {
	s.t.Helper()
	db, err := bolt.Open(s.checkpoint, 0o600, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("objects"))
		v := b.Get([]byte(id))
		if v == nil {
			s.t.Fatalf("no record %s to damage", id)
		}
		return b.Put([]byte(id), damage(append([]byte(nil), v...)))
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// verifyCheckpoint fails the test unless the checkpoint passes checkpoint.Verify (every record
// decodes, indexes and counters agree with a recount).
func (s *sandbox) verifyCheckpoint() {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if err := db.Verify(); err != nil {
		s.t.Fatalf("checkpoint: %v", err)
	}
}

// An unreadable object record stops `copy --resume` with an error naming it and the way past
// it; `copy --resume --skip-corrupt` sets it aside (out of the objects, the indexes and the
// counters, into the checkpoint's corrupt bucket), says which, and copies the rest; `report`
// counts it; `plan` plans it again from the database, and the next copy copies it.
func TestCorruptRecordSetAside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record int64
		damage func([]byte) []byte
	}{
		{"garbage value of a pending record", 12, func([]byte) []byte { return []byte("\x01\x09garbage") }},
		{"truncated value of the first record, done", 1, func(v []byte) []byte { return v[:len(v)/2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t, pgtest.ModernSchema)
			bodies := manyObjects(s, 20)
			s.must(exitOK, "plan")
			s.must(exitOK, "copy", "--limit", "5") // records 1 to 5 done
			id := checkpoint.Object{Kind: "preview_cards", RecordID: tc.record, Attachment: "image", Style: "original"}.ID()
			s.damageRecord(id, tc.damage)

			// Without the flag, whatever reads the record stops there, naming it and the flag.
			first := s.run("copy", "--resume")
			if tc.record == 1 {
				// The copy reads pending records only; plan reads every record it plans.
				s.must(exitOK, "copy", "--resume")
				first = s.run("plan")
			}
			for _, r := range []result{first, s.run("report", "--format", "csv", "--status", "done,pending")} {
				if r.code != exitError || !strings.Contains(r.stderr, id) || !strings.Contains(r.stderr, "--skip-corrupt") ||
					strings.Contains(r.stderr, "panic") || len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 {
					t.Fatalf("with record %s damaged: %s", id, r)
				}
			}
			if tc.record == 12 {
				if again := s.run("copy", "--resume"); again.stderr != first.stderr {
					t.Errorf("the second run stopped elsewhere:\n%s\nthen\n%s", first.stderr, again.stderr)
				}
			}

			// --skip-corrupt sets it aside, reports it and copies the rest.
			r := s.must(exitOK, "copy", "--resume", "--skip-corrupt")
			if !strings.Contains(r.stdout, "set aside 1 unreadable object record(s)") || !strings.Contains(r.stdout, id) {
				t.Errorf("copy --skip-corrupt does not report the record set aside:\n%s", r)
			}
			if c := s.counts(); c[checkpoint.Done] != 19 || c[checkpoint.Pending] != 0 {
				t.Errorf("after copy --skip-corrupt: %v, want 19 done", c)
			}
			s.verifyCheckpoint()
			r = s.must(exitOK, "report")
			if !strings.Contains(r.stdout, "1 unreadable object record(s) set aside") {
				t.Errorf("report does not show the record set aside:\n%s", r)
			}
			// A second --skip-corrupt finds nothing more.
			if r := s.must(exitOK, "copy", "--resume", "--skip-corrupt"); strings.Contains(r.stdout, "set aside") {
				t.Errorf("nothing left to set aside, yet:\n%s", r)
			}

			// plan puts it back from the database; the next copy copies it.
			s.must(exitOK, "plan")
			if c := s.counts(); c[checkpoint.Pending] != 1 {
				t.Errorf("after plan: %v, want the set-aside record pending again", c)
			}
			r = s.must(exitOK, "report")
			if strings.Contains(r.stdout, "set aside") {
				t.Errorf("report still counts a record planned again:\n%s", r)
			}
			s.must(exitOK, "copy", "--resume")
			s.verifyCheckpoint()
			s.assertCopied(bodies)
		})
	}
}
