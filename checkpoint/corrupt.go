package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketCorrupt holds the object records SetAsideCorrupt moved out of the objects bucket
// because they could not be read: key the record's key as it was stored, value the encoding
// of corruptValue. It is created when first needed (a file without it has nothing set aside;
// an s3sync that does not know it ignores it) and is no part of what Verify checks. Merge
// removes a record from it when it plans that ID again.
var bucketCorrupt = []byte("corrupt")

// skipCorruptHint says how to get past an unreadable record.
const skipCorruptHint = "set unreadable records aside with: s3sync copy --resume --skip-corrupt"

// RecordError is an object record the checkpoint holds but cannot read: its value (or its
// key) does not decode, or a status index lists an ID that has no record. The rest of the
// file is fine: SetAsideCorrupt moves such records aside. It wraps ErrCorrupt.
type RecordError struct {
	ID  string // the record's key as stored; a damaged key may hold any byte
	Err error  // what is wrong with it
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("object record %s cannot be read (%v): the checkpoint is damaged there; %s", quoteID(e.ID), e.Err, skipCorruptHint)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *RecordError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// recordError is the error for the record stored under key that fails with err.
func recordError(key []byte, err error) error {
	return &RecordError{ID: string(key), Err: err}
}

// quoteID quotes a record key for a message, shortened when a damaged key is long.
func quoteID(id string) string {
	const most = 200
	if len(id) > most {
		return strconv.Quote(id[:most]) + fmt.Sprintf("… (%d bytes)", len(id))
	}
	return strconv.Quote(id)
}

// CorruptRecord is an object record set aside by SetAsideCorrupt.
type CorruptRecord struct {
	ID       string    // its key as stored (quote it: a damaged key may hold any byte)
	Status   Status    // the status index that listed it, "" when none did
	Reason   string    // why it could not be read
	Bytes    int       // the size of the stored value, kept as it was in the corrupt bucket
	SetAside time.Time // when it was set aside (UTC)
}

// Repair is what SetAsideCorrupt did.
type Repair struct {
	Records []CorruptRecord // the records it moved to the corrupt bucket, in key order
	// IndexEntries is how many status index entries it added or removed, besides those of the
	// records set aside, so that every record is listed in exactly the index of its status and
	// nothing else is listed.
	IndexEntries int
	// CountersFixed is true when it wrote a recount over the counters: always when it set
	// records aside (they were counted), else when the counters differed from the recount.
	CountersFixed bool
	// Objects is how many object records it checked (and kept).
	Objects int
}

// SetAsideCorrupt checks every object record and moves each one that cannot be read (its
// value does not decode, or its key is no ID) out of the objects bucket and every status index
// into the corrupt bucket, keeping its bytes; it then makes the status indexes list exactly the
// readable records by their status, and rewrites the counters from a recount, so that Verify
// passes. It is one write transaction over the whole catalog (its cost is Verify's); with
// nothing to mend it changes nothing. Damage to the file's structure that bbolt cannot read
// past is an ErrCorrupt error, and nothing is changed.
func (db *DB) SetAsideCorrupt() (Repair, error) {
	var rep Repair
	err := db.update(func(tx *bolt.Tx) error {
		rep = Repair{}
		objects := tx.Bucket(bucketObjects)
		counters := tx.Bucket(bucketCounters)
		var idx []*bolt.Bucket
		for _, name := range statusBuckets {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			idx = append(idx, b)
		}
		type entry struct {
			index int
			key   []byte
			put   bool
		}
		var fixes []entry
		type bad struct {
			key, value []byte
			status     Status
			reason     string
		}
		var bads []bad
		own := 0 // index entries of the records set aside
		counts := Counts{}

		// Walk the records and the indexes together, all in key order.
		curs := make([]*bolt.Cursor, len(idx))
		heads := make([][]byte, len(idx))
		for i, b := range idx {
			curs[i] = b.Cursor()
			heads[i], _ = curs[i].First()
		}
		c := objects.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var listed []int
			for i := range heads {
				for heads[i] != nil && bytes.Compare(heads[i], k) < 0 {
					fixes = append(fixes, entry{i, slices.Clone(heads[i]), false}) // lists no record
					heads[i], _ = curs[i].Next()
				}
				if heads[i] != nil && bytes.Equal(heads[i], k) {
					listed = append(listed, i)
					heads[i], _ = curs[i].Next()
				}
			}
			o, err := decodeObject(k, v)
			if err == nil && o.ID() != string(k) {
				err = fmt.Errorf("its key reads as %q", o.ID())
			}
			if err != nil {
				b := bad{key: slices.Clone(k), value: slices.Clone(v), reason: err.Error()}
				for _, i := range listed {
					if b.status == "" {
						b.status = AllStatuses[i]
					}
					fixes = append(fixes, entry{i, b.key, false})
					own++
				}
				bads = append(bads, b)
				continue
			}
			rep.Objects++
			want := indexOf(o.Status)
			in := false
			for _, i := range listed {
				if i == want {
					in = true
					continue
				}
				fixes = append(fixes, entry{i, slices.Clone(k), false})
			}
			if !in {
				fixes = append(fixes, entry{want, slices.Clone(k), true})
			}
			counts.add(o.Kind, o.Status, Count{1, o.countBytes()})
		}
		for i := range heads {
			for ; heads[i] != nil; heads[i], _ = curs[i].Next() {
				fixes = append(fixes, entry{i, slices.Clone(heads[i]), false})
			}
		}

		for _, f := range fixes {
			var err error
			if f.put {
				err = idx[f.index].Put(f.key, []byte{})
			} else {
				err = idx[f.index].Delete(f.key)
			}
			if err != nil {
				return err
			}
		}
		rep.IndexEntries = len(fixes) - own
		if len(bads) > 0 {
			corrupt, err := tx.CreateBucketIfNotExists(bucketCorrupt)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			for _, b := range bads {
				if err := objects.Delete(b.key); err != nil {
					return err
				}
				if err := corrupt.Put(b.key, appendCorrupt(nil, b.status, b.reason, now, b.value)); err != nil {
					return err
				}
				rep.Records = append(rep.Records, CorruptRecord{ID: string(b.key), Status: b.status, Reason: b.reason, Bytes: len(b.value), SetAside: now})
			}
		}

		kept := Counts{}
		var keys [][]byte
		err := counters.ForEach(func(k, v []byte) error {
			keys = append(keys, slices.Clone(k))
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) != 16 || !Status(k[i+1:]).valid() {
				kept = nil // malformed: rewrite
			} else if kept != nil {
				objs, n := decodeCounter(v)
				kept.add(string(k[:i]), Status(k[i+1:]), Count{objs, n})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if kept != nil && equalCounts(kept, counts) {
			return nil
		}
		rep.CountersFixed = true
		for _, k := range keys {
			if err := counters.Delete(k); err != nil {
				return err
			}
		}
		for kind, byStatus := range counts {
			for s, n := range byStatus {
				v := make([]byte, 16)
				binary.BigEndian.PutUint64(v[:8], uint64(n.Objects))
				binary.BigEndian.PutUint64(v[8:], uint64(n.Bytes))
				if err := counters.Put([]byte(counterKey(kind, s)), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Repair{}, fmt.Errorf("checkpoint: set aside unreadable records: %w", err)
	}
	return rep, nil
}

// A corrupt bucket value is: byte version (1), string status, string reason, varint UnixNano of
// when it was set aside, then the record's value as it was stored.
const corruptVersion = 1

func appendCorrupt(b []byte, s Status, reason string, at time.Time, value []byte) []byte {
	b = append(b, corruptVersion)
	b = appendString(b, string(s))
	b = appendString(b, reason)
	b = binary.AppendVarint(b, at.UnixNano())
	return append(b, value...)
}

// CorruptRecords returns the records set aside so far (and not planned again since), in key
// order.
func (db *DB) CorruptRecords() ([]CorruptRecord, error) {
	var out []CorruptRecord
	err := db.view(func(tx *bolt.Tx) error {
		out = nil
		b := tx.Bucket(bucketCorrupt)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			r := CorruptRecord{ID: string(k), Reason: "?"}
			d := decoder{b: v}
			if d.byte() == corruptVersion {
				r.Status = Status(d.string())
				r.Reason = d.string()
				r.SetAside = fromUnixNano(d.varint())
				r.Bytes = len(d.b)
			}
			if d.err != nil {
				r = CorruptRecord{ID: string(k), Reason: "?", Bytes: len(v)}
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: corrupt records: %w", err)
	}
	return out, nil
}
