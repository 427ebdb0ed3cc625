package checkpoint

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Page returns up to n objects matching f whose IDs sort after the cursor after ("" = from the
// first), in ID order whatever their status, and more = true when further objects match; the
// next page is Page(f, last ID returned, n). It pages by key, never by position: one short read
// transaction seeks each status index of f (the objects bucket when f.Statuses is empty) under
// each kind's prefix and merges them, so its cost follows n + len(f.Kinds) × len(f.Statuses),
// not how far into the list the cursor is. A cursor that is no ID is just a place in the order.
func (db *DB) Page(f Filter, after string, n int) (objs []Object, more bool, err error) {
	statuses, err := checkStatuses(f.Statuses)
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint: page: %w", err)
	}
	pfx, err := prefixes(f.Kinds)
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint: page: %w", err)
	}
	if n <= 0 {
		return nil, false, nil
	}
	err = db.view(func(tx *bolt.Tx) error {
		objs, more = nil, false
		objects := tx.Bucket(bucketObjects)
		var buckets []*bolt.Bucket
		if len(statuses) == 0 {
			buckets = append(buckets, objects)
		}
		for _, s := range statuses {
			if b := tx.Bucket(statusBuckets[indexOf(s)]); b != nil { // no stale index in a format 1 file opened ReadOnly
				buckets = append(buckets, b)
			}
		}
		// The prefixes are sorted and none is a prefix of another ("kind/"), so their ranges
		// follow one another: merging the buckets range by range yields ID order.
		for _, p := range pfx {
			heads := make([][]byte, len(buckets))
			curs := make([]*bolt.Cursor, len(buckets))
			for i, b := range buckets {
				curs[i] = b.Cursor()
				heads[i] = seekAfter(curs[i], p, after)
			}
			for {
				lo := -1
				for i, k := range heads {
					if k != nil && (lo < 0 || bytes.Compare(k, heads[lo]) < 0) {
						lo = i
					}
				}
				if lo < 0 {
					break
				}
				if len(objs) == n {
					more = true
					return nil
				}
				key := heads[lo]
				o, err := getObject(objects, key)
				if err != nil {
					return err
				}
				objs = append(objs, o)
				for i, k := range heads { // an ID in two indexes (a damaged file) is listed once
					if k != nil && bytes.Equal(k, key) {
						heads[i] = nextIn(curs[i], p)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint: page: %w", err)
	}
	return objs, more, nil
}

// seekAfter positions c at the first key with prefix p that is > after, and returns it (nil
// when there is none).
func seekAfter(c *bolt.Cursor, p, after string) []byte {
	var k []byte
	if after >= p {
		k, _ = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, _ = c.Next()
		}
	} else {
		k, _ = c.Seek([]byte(p))
	}
	if k == nil || !bytes.HasPrefix(k, []byte(p)) {
		return nil
	}
	return k
}

// nextIn moves c on and returns its key while it has prefix p, else nil.
func nextIn(c *bolt.Cursor, p string) []byte {
	k, _ := c.Next()
	if k == nil || !bytes.HasPrefix(k, []byte(p)) {
		return nil
	}
	return k
}
