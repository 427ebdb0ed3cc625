package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// UploadAborter aborts a multipart upload at the destination; *storage.Client is one.
type UploadAborter interface {
	// AbortUpload aborts uploadID of key and checks it is gone; an upload that no longer
	// exists is not an error.
	AbortUpload(ctx context.Context, key, uploadID string) error
}

// AbortRecordedUploads aborts at dst every multipart upload the checkpoint records, the ones
// a killed copy left behind (their objects are still pending, or done if the kill came between
// completing the upload and forgetting it), and forgets each one aborted. It returns how many
// it aborted; the error of one that could not be aborted stops it, the rest stay recorded.
// AbortUpload is not retried here: storage.Client.AbortUpload retries a throttled or failed
// abort itself, and checks that the upload is gone.
func AbortRecordedUploads(ctx context.Context, log UploadLog, dst UploadAborter) (int, error) {
	ups, err := log.Uploads()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range ups {
		if err := dst.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
			return n, fmt.Errorf("abort the multipart upload %s of %s: %w", u.UploadID, u.Key, err)
		}
		if err := log.ForgetUpload(u.UploadID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// UploadLister lists incomplete multipart uploads; *storage.Client is one.
type UploadLister interface {
	ListUploads(ctx context.Context, prefix string, fn func(storage.Upload) error) error
}

// IncompleteUpload is an incomplete multipart upload under Mastodon's prefixes.
type IncompleteUpload struct {
	storage.Upload
	Recorded bool // the checkpoint records it: an s3sync copy started it
}

// IncompleteUploads lists the incomplete multipart uploads under Mastodon's prefixes at dst,
// saying which the checkpoint records (nil log: none).
func IncompleteUploads(ctx context.Context, dst UploadLister, log UploadLog) ([]IncompleteUpload, error) {
	recorded := map[string]bool{}
	if log != nil {
		ups, err := log.Uploads()
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			recorded[u.UploadID] = true
		}
	}
	// One listing of the bucket (under its key prefix), filtered here: incomplete uploads are
	// few, and one request beats one per Mastodon prefix.
	prefixes := catalog.Prefixes()
	// A listing the provider throttles or fails is listed again from the start (defaultRetry).
	var out []IncompleteUpload
	_, err := defaultRetry().do(ctx, func() error {
		out = out[:0]
		return dst.ListUploads(ctx, "", func(u storage.Upload) error {
			for _, p := range prefixes {
				if strings.HasPrefix(u.Key, p) {
					out = append(out, IncompleteUpload{Upload: u, Recorded: recorded[u.UploadID]})
					break
				}
			}
			return nil
		})
	})
	return out, err
}

// OldestUpload returns the earliest Initiated of ups, zero for none.
func OldestUpload(ups []IncompleteUpload) time.Time {
	var t time.Time
	for _, u := range ups {
		if t.IsZero() || (!u.Initiated.IsZero() && u.Initiated.Before(t)) {
			t = u.Initiated
		}
	}
	return t
}

var _ UploadLog = (*checkpoint.DB)(nil)
