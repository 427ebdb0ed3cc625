package engine

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// errAbsent means no candidate key exists at the source: the object is missing, not failed.
var errAbsent = errors.New("not found at the source")

// copier copies one object at a time, each with its attempts retried by retry.
type copier struct {
	src     Source
	dst     Destination
	retry   retryPolicy // retries, backoff and what is retryable (copyRetryable)
	log     zerolog.Logger
	retried *atomic.Int64 // retried requests, counted for the monitor

	// noContentMD5 stops sending the source's ETag as Content-MD5 (for sources whose ETags
	// are not MD5s although they look like one: SSE-KMS, SSE-C).
	noContentMD5 bool

	// server, when set, copies inside the provider instead of streaming (see copyServerSide).
	server ServerSideCopier

	// privateACL is the ACL for objects of suspended accounts (CopyOptions.PrivateACL).
	privateACL string

	// uploads records each multipart upload before its first part and forgets it when it
	// ends, so that one a killed copy left behind can be aborted (AbortRecordedUploads).
	uploads UploadLog

	// minRate (bytes/s) and minTime bound each attempt (see transferLimits); 0 = no bound.
	minRate float64
	minTime time.Duration

	// dstHead, when set, asks the destination about an object: one absent at the source but
	// present there is done (found), and from keepNewerSince on a version Mastodon wrote there
	// after the switch is left as it is (see keepsNewer).
	dstHead        Header
	keepNewerSince time.Time
	// notYetGrace keeps an object absent everywhere pending, looked for again by the next
	// run, while it is younger than this and was planned after notYetSince (a record that
	// following found, which Mastodon may still be processing); 0 = missing at once.
	notYetGrace time.Duration
	notYetSince time.Time
}

// Notes of objects done without a copy, and of objects not at the source yet.
const (
	noteFound  = "not at the source, already at the destination (Mastodon writes new uploads there after the switch): not copied"
	noteKept   = "the destination holds a newer version than the source's (written there by Mastodon after the switch): kept, not overwritten"
	noteNotYet = "not at the source yet (Mastodon may still be processing it): looked for again in the next pass"
)

// errKeptNewer means the destination holds the object in a version newer than the source's.
var errKeptNewer = errors.New("kept the destination's newer object")

// UploadLog is where the copy records the multipart uploads it starts; *checkpoint.DB is one.
type UploadLog interface {
	RecordUpload(checkpoint.Upload) error
	ForgetUpload(uploadID string) error
	Uploads() ([]checkpoint.Upload, error)
}

// trackUploads sets opts' upload hooks so that multipart uploads of o are recorded in c.uploads.
func (c *copier) trackUploads(opts *storage.PutOptions, o checkpoint.Object) {
	if c.uploads == nil {
		return
	}
	id, key := o.ID(), o.DestKey()
	opts.OnUploadStart = func(uploadID string) error {
		return c.uploads.RecordUpload(checkpoint.Upload{UploadID: uploadID, ObjectID: id, Key: key})
	}
	opts.OnUploadEnd = func(uploadID string) {
		if err := c.uploads.ForgetUpload(uploadID); err != nil {
			c.log.Warn().Err(err).Str("upload", uploadID).Msg("could not forget a finished multipart upload; cleanup-uploads will find it gone")
		}
	}
}

// copyObject tries o until it is done, missing, failed for good, or the retries run out.
// ok is false when there is no result to record: work was cancelled, or stop is set because
// the error would be the same for every object (wrong bucket, credentials, ACL), in which
// case the object stays pending and the run should end.
func (c *copier) copyObject(work context.Context, o checkpoint.Object) (u checkpoint.Update, ok bool, stop error) {
	u = checkpoint.Update{ID: o.ID()}
	policy := c.retry
	policy.onRetry = func(attempt int, wait time.Duration, err error) {
		c.retried.Add(1)
		c.log.Debug().Str("id", u.ID).Int("attempt", attempt).Dur("wait", wait).Err(err).Msg("retrying")
	}
	var key string
	var n int64
	attempts, err := policy.do(work, func() error {
		var err error
		key, n, err = c.attempt(work, o)
		return err
	})
	u.Attempts = attempts
	switch {
	case err == nil:
		u.Status, u.Bytes, u.SourceKey, u.Error = checkpoint.Done, n, key, ""
		return u, true, nil
	case errors.Is(err, errKeptNewer):
		u.Status, u.Found, u.Error = checkpoint.Done, true, noteKept
		return u, true, nil
	case errors.Is(err, errAbsent):
		return c.absent(work, o, u, err)
	case work.Err() != nil:
		return u, false, nil
	case storage.IsBucketWide(err):
		return u, false, err
	}
	u.Status, u.Error = checkpoint.Failed, err.Error()
	switch {
	case storage.IsCorrupted(err) && !c.noContentMD5:
		u.Error = fmt.Sprintf("gave up after %d attempts, the body never arrived intact: %s (if the source encrypts with SSE-KMS or SSE-C its ETags are not MD5s: set [sync] content_md5 = false)", u.Attempts, err)
	case copyRetryable(err):
		u.Error = fmt.Sprintf("gave up after %d attempts: %s", u.Attempts, err)
	}
	return u, true, nil
}

// absent decides the fate of an object no candidate of which exists at the source: done
// (found) when the destination holds it, pending while it is younger than notYetGrace,
// else missing. ok and stop are copyObject's.
func (c *copier) absent(work context.Context, o checkpoint.Object, u checkpoint.Update, why error) (_ checkpoint.Update, ok bool, stop error) {
	if c.dstHead != nil {
		_, err := c.retry.do(work, func() error {
			_, err := c.dstHead.Head(work, o.DestKey())
			return err
		})
		switch {
		case err == nil:
			u.Status, u.Found, u.Error = checkpoint.Done, true, noteFound
			return u, true, nil
		case work.Err() != nil:
			return u, false, nil
		case storage.IsBucketWide(err):
			return u, false, err
		case !storage.IsNotFound(err):
			u.Status, u.Error = checkpoint.Failed, fmt.Sprintf("%v; and asking the destination for it failed: %v", why, err)
			return u, true, nil
		}
	}
	if c.notYetGrace > 0 && !o.CreatedAt.Before(c.notYetSince) && time.Since(o.CreatedAt) < c.notYetGrace {
		u.Status, u.Error = checkpoint.Pending, noteNotYet
		return u, true, nil
	}
	u.Status, u.Error = checkpoint.Missing, why.Error()
	return u, true, nil
}

// keepsNewer reports whether the destination holds o in a version Mastodon wrote after the
// switch, which the copy must not overwrite (CopyOptions.KeepNewerSince): s3sync never tried
// o before (its own copies are never kept, so that a copy it left short or wrong is written
// again), the destination's content differs from src's (size, or MD5 ETags when both are
// plain MD5s), and it was written after src and after keepNewerSince. An original whose size
// there differs from the database's is no version Mastodon wrote: a short copy.
func (c *copier) keepsNewer(ctx context.Context, o checkpoint.Object, src storage.ObjectInfo) (bool, error) {
	if c.keepNewerSince.IsZero() || c.dstHead == nil || src.LastModified.IsZero() || o.Attempts > 0 {
		return false, nil
	}
	d, err := c.dstHead.Head(ctx, o.DestKey())
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sameContent := d.Size == src.Size && (!plainMD5.MatchString(d.ETag) || !plainMD5.MatchString(src.ETag) || d.ETag == src.ETag)
	shortOriginal := o.Style == "original" && o.Size > 0 && d.Size != o.Size
	return !sameContent && !shortOriginal && d.LastModified.After(src.LastModified) && d.LastModified.After(c.keepNewerSince), nil
}

// copyRetryable reports whether another attempt at copying an object may succeed:
// storage.IsRetryable, an attempt that was too slow, a source whose size the database
// contradicts (a fresh GET may be whole), or a body that did not arrive intact
// (storage.IsCorrupted: a fresh GET may be). An absent object and an error every object would
// get (storage.IsBucketWide) are final.
func copyRetryable(err error) bool {
	if errors.Is(err, errAbsent) || errors.Is(err, errKeptNewer) || storage.IsBucketWide(err) {
		return false
	}
	var slow *attemptTimeout
	var size *sizeDisagreement
	return storage.IsRetryable(err) || storage.IsCorrupted(err) || errors.As(err, &slow) || errors.As(err, &size)
}

// attempt is one try at copying o, within the bounds of minRate and minTime: an attempt out of
// them is cancelled, and its error is the *attemptTimeout.
func (c *copier) attempt(work context.Context, o checkpoint.Object) (string, int64, error) {
	if c.minRate <= 0 {
		return c.copyCandidates(work, o, nil)
	}
	w := newWatch(c.minRate, c.minTime)
	ctx, end := watchAttempt(work, w)
	key, n, err := c.copyCandidates(ctx, o, w)
	var slow *attemptTimeout
	if err != nil && work.Err() == nil && errors.As(context.Cause(ctx), &slow) {
		err = slow
	}
	end()
	return key, n, err
}

// copyCandidates copies the first candidate that exists at the source to the object's DestKey,
// the key Mastodon asks for, and returns the source key it read and the bytes written. A file
// an older release (or an interrupted storage upgrade) left under another key thus arrives
// where the database's Mastodon looks for it.
//
// w, when set, watches the attempt's pace: it learns the size and counts the bytes read.
// An original whose size the source announces differently from the database is not copied
// (*sizeDisagreement).
func (c *copier) copyCandidates(ctx context.Context, o checkpoint.Object, w *watch) (string, int64, error) {
	if c.server != nil {
		return c.copyServerSide(ctx, o, w)
	}
	for _, key := range o.Candidates {
		body, info, err := c.src.Get(ctx, key)
		if storage.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		if err := checkSize(o, key, info.Size); err != nil {
			body.Close()
			return "", 0, err
		}
		if keep, err := c.keepsNewer(ctx, o, info); keep || err != nil {
			body.Close()
			if err == nil {
				err = errKeptNewer
			}
			return "", 0, err
		}
		var r io.Reader = body
		if w != nil {
			w.expect(info.Size, true)
			r = w.count(body)
		}
		err = c.put(ctx, o, o.DestKey(), r, info)
		body.Close()
		if err != nil {
			return "", 0, err
		}
		return key, info.Size, nil
	}
	return "", 0, fmt.Errorf("%w under any of: %s", errAbsent, strings.Join(o.Candidates, ", "))
}

// put streams body to the destination, keeping the source's headers: Content-Type (else the
// database's, else sniffed from the first bytes), Cache-Control (else Mastodon's) and
// Content-Disposition.
func (c *copier) put(ctx context.Context, o checkpoint.Object, key string, body io.Reader, info storage.ObjectInfo) error {
	opts := storage.PutOptions{
		ContentType:        info.ContentType,
		CacheControl:       info.CacheControl,
		ContentDisposition: info.ContentDisposition,
		ACL:                c.aclFor(o),
	}
	if opts.ContentType == "" {
		opts.ContentType = o.ContentType
	}
	if opts.ContentType == "" {
		br := bufio.NewReaderSize(body, 512)
		head, _ := br.Peek(512)
		opts.ContentType = http.DetectContentType(head)
		body = br
	}
	if opts.CacheControl == "" {
		opts.CacheControl = catalog.CacheControl
	}
	if !c.noContentMD5 {
		// The destination then verifies every byte: a body corrupted on the way is refused
		// (BadDigest) and copied again, never stored as done.
		opts.ContentMD5 = etagMD5(info.ETag)
	}
	c.trackUploads(&opts, o)
	return c.dst.Put(ctx, key, body, info.Size, opts)
}

// etagMD5 returns the base64 Content-MD5 for an ETag that is a plain MD5 (32 hex digits; a
// multipart ETag has a "-N" suffix), else "".
func etagMD5(etag string) string {
	sum, err := hex.DecodeString(strings.Trim(etag, `"`))
	if err != nil || len(sum) != md5.Size {
		return ""
	}
	return base64.StdEncoding.EncodeToString(sum)
}
