package checkpoint

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketUploads holds the multipart uploads a copy started and has not seen end (format 3):
// key the upload ID, value "<object ID>\x00<destination key>". A copy records an upload before
// its first part and forgets it once the upload is completed or aborted; whatever a killed copy
// left here, the next copy --resume (or s3sync cleanup-uploads) aborts at the destination.
var bucketUploads = []byte("uploads")

// Upload is a multipart upload recorded in the checkpoint.
type Upload struct {
	UploadID string
	ObjectID string // the object it belongs to (Object.ID)
	Key      string // its destination key, relative to the destination's key prefix
}

// RecordUpload stores u in its own transaction, durably, before the caller uploads a part.
func (db *DB) RecordUpload(u Upload) error {
	if u.UploadID == "" || bytes.IndexByte([]byte(u.ObjectID), 0) >= 0 {
		return fmt.Errorf("checkpoint: record upload: empty upload ID or NUL in object ID")
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUploads)
		if err != nil {
			return err
		}
		return b.Put([]byte(u.UploadID), []byte(u.ObjectID+"\x00"+u.Key))
	})
	if err != nil {
		return fmt.Errorf("checkpoint: record upload: %w", err)
	}
	return nil
}

// ForgetUpload removes the upload with this ID; an unknown ID is no error.
func (db *DB) ForgetUpload(uploadID string) error {
	err := db.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketUploads); b != nil {
			return b.Delete([]byte(uploadID))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: forget upload: %w", err)
	}
	return nil
}

// Uploads returns the recorded uploads in upload ID order (none in a checkpoint older than
// format 3 opened read-only).
func (db *DB) Uploads() ([]Upload, error) {
	var out []Upload
	err := db.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUploads)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			id, key, ok := bytes.Cut(v, []byte{0})
			if !ok {
				return fmt.Errorf("%w: upload %q: malformed value", ErrCorrupt, k)
			}
			out = append(out, Upload{UploadID: string(k), ObjectID: string(id), Key: string(key)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: uploads: %w", err)
	}
	return out, nil
}
