package checkpoint

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketFound lists, by ID, the objects that are done and Found (see writer.indexFound). It is
// created on first use, so a checkpoint without it is a checkpoint with none; no format change.
var bucketFound = []byte("found")

// FoundCounts returns, per kind, the done objects that were found already at the destination
// instead of copied (Object.Found): after the switch, Mastodon writes new uploads straight to
// the destination. Its cost follows the number of such objects, not the checkpoint's.
func (db *DB) FoundCounts() (map[string]int64, error) {
	out := map[string]int64{}
	err := db.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFound)
		if b == nil {
			return nil
		}
		objects := tx.Bucket(bucketObjects)
		return b.ForEach(func(k, _ []byte) error {
			v := objects.Get(k)
			if v == nil {
				return nil // set aside as unreadable since
			}
			o, err := decodeObject(k, v)
			if err != nil {
				return recordError(k, err)
			}
			if o.Status == Done && o.Found {
				out[o.Kind]++
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: found counts: %w", err)
	}
	return out, nil
}
