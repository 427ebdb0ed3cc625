package checkpoint

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// formatV2 is the format in which a done object was written to the destination under the key
// it was found at the source (SourceKey). From format 3 on it is written to DestKey, the key
// Mastodon asks for; see migrateV2.
const formatV2 = "2"

// migrateV2 turns a format 2 checkpoint into format 3, which adds the uploads bucket, and in
// which every object is written to its DestKey: a Done object that the copy found
// under another candidate than the first was written there, a key Mastodon does not ask for,
// so it is Pending again (copy --resume writes it to DestKey). It works through the done
// index in chunks of requeueChunk and bumps the version in the last transaction, so an
// interrupted migration simply runs again at the next open.
func (db *DB) migrateV2() error {
	after := ""
	for {
		n := 0
		err := db.update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(bucketUploads); err != nil {
				return err
			}
			w := newWriter(tx)
			var keys [][]byte
			var err error
			n, err = scan(w.index[indexOf(Done)], "", after, requeueChunk, func(k, _ []byte) error {
				keys = append(keys, slices.Clone(k))
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				old, err := getObject(w.objects, k)
				var unreadable *RecordError
				if errors.As(err, &unreadable) {
					continue // left as it is, for SetAsideCorrupt: the file must open to get there
				}
				if err != nil {
					return err
				}
				if old.SourceKey == "" || old.SourceKey == old.DestKey() {
					continue
				}
				o := old
				o.Status, o.Bytes, o.SourceKey, o.UpdatedAt = Pending, 0, "", w.now
				o.Error = fmt.Sprintf("copied to %s by an older s3sync; Mastodon asks for %s", old.SourceKey, old.DestKey())
				if err := w.setStatus(k, old, o); err != nil {
					return err
				}
			}
			if len(keys) > 0 {
				after = string(keys[len(keys)-1])
			}
			if err := w.flush(); err != nil {
				return err
			}
			if n < requeueChunk {
				return tx.Bucket(bucketMeta).Put([]byte(MetaFormat), []byte(FormatVersion))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate format %s to %s: %w", formatV2, FormatVersion, err)
		}
		if n < requeueChunk {
			return nil
		}
	}
}
