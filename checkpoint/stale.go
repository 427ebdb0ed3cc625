package checkpoint

import (
	"fmt"
	"path"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// staleChunk is how many objects MarkStale examines per write transaction.
const staleChunk = 10000

// StaleSeparator joins a style and the old file name in the ID of the Stale object a replaced
// file leaves behind: "original~old.jpg".
const StaleSeparator = "~"

// migrateV1 turns a format 1 checkpoint into format 2: it adds the stale index and bumps the
// version, in one transaction (format 1 files hold no stale objects, so nothing else changes).
// migrateV2 follows.
func (db *DB) migrateV1() error {
	err := db.update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(statusBuckets[indexOf(Stale)]); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte(formatV2))
	})
	if err != nil {
		return fmt.Errorf("migrate format %s to %s: %w", formatV1, formatV2, err)
	}
	return nil
}

// refresh adjusts o, the refreshed state of the known object old, before Merge stores it: a
// Stale object is Pending again; a Missing one whose candidates changed is Pending again (it
// may be found now); when the key Mastodon asks for changed (Mastodon stored a new file for
// the record, a storage schema upgrade moved it to cache/, a newer s3sync computes it
// better), the object starts over as Pending with its copy fields cleared, and a Done one
// leaves the old copy behind as a Stale object (ID style "<style>~<old name>", its candidates
// and bytes as copied) so that reports can list it at the destination.
func (w *writer) refresh(key []byte, old Object, o *Object) error {
	if old.Status == Stale {
		o.Status, o.Error, o.UpdatedAt = Pending, "", w.now
	}
	if old.Status == Missing && !slices.Equal(old.Candidates, o.Candidates) {
		o.Status, o.Error, o.UpdatedAt = Pending, "", w.now
	}
	if len(old.Candidates) == 0 || len(o.Candidates) == 0 ||
		old.Candidates[0] == o.Candidates[0] || old.Status == Stale {
		return nil
	}
	if old.Status == Done {
		gone := old
		gone.Style = old.Style + StaleSeparator + path.Base(old.Candidates[0])
		gone.Status, gone.UpdatedAt = Stale, w.now
		if gone.validateIdentity() == nil {
			gk := appendID(nil, gone)
			if v := w.objects.Get(gk); v == nil {
				if err := w.put(gk, gone); err != nil {
					return err
				}
				if err := w.index[indexOf(Stale)].Put(gk, []byte{}); err != nil {
					return err
				}
				w.count(gone.Kind, Stale, 1, gone.countBytes())
			}
		}
	}
	o.Status, o.Error, o.Bytes, o.SourceKey, o.Attempts, o.UpdatedAt = Pending, "", 0, "", 0, w.now
	return nil
}

// MarkStale marks Stale every object of kind whose record id is in (after, upTo] (upTo < 0:
// no upper bound) and whose ID keep does not hold, unless it is Stale already; plan calls it
// for the id range of each page it read, so objects of deleted records, and attachments a
// record no longer has, become Stale. It commits every 10,000 objects and returns how many
// it marked.
func (db *DB) MarkStale(kind string, after, upTo int64, keep map[string]bool) (int, error) {
	pfx, err := prefixes([]string{kind})
	if err != nil {
		return 0, fmt.Errorf("checkpoint: mark stale: %w", err)
	}
	p := pfx[0]
	from := string(appendID(nil, Object{Kind: kind, RecordID: after})) // "<kind>/<after>/" sorts before after's IDs
	from = from[:len(p)+idWidth]
	from += "/\xff" // skip every ID of record `after`
	if after < 0 {
		from = ""
	}
	marked := 0
	for {
		n, done := 0, false
		err := db.update(func(tx *bolt.Tx) error {
			n, done = 0, false
			w := newWriter(tx)
			var keys [][]byte
			seen, err := scan(w.objects, p, from, staleChunk, func(k, v []byte) error {
				if upTo >= 0 {
					_, id, _, _, err := parseID(k)
					if err != nil {
						return recordError(k, err)
					}
					if id > upTo {
						done = true
						return errStopScan
					}
				}
				if !keep[string(k)] && len(v) > 1 {
					if st, ok := statusFromCode(v[1]); ok && st != Stale {
						keys = append(keys, slices.Clone(k))
					}
				}
				from = string(k)
				return nil
			})
			if err != nil && err != errStopScan {
				return err
			}
			if seen < staleChunk {
				done = true
			}
			for _, k := range keys {
				old, err := getObject(w.objects, k)
				if err != nil {
					return err
				}
				o := old
				o.Status, o.UpdatedAt = Stale, w.now
				if err := w.setStatus(k, old, o); err != nil {
					return err
				}
			}
			n = len(keys)
			return w.flush()
		})
		if err != nil {
			return marked, fmt.Errorf("checkpoint: mark stale: %w", err)
		}
		marked += n
		if done {
			return marked, nil
		}
	}
}

// errStopScan ends a scan early without an error.
var errStopScan = fmt.Errorf("stop scan")
