package storage

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MultipartThreshold is the largest body Put sends with a single PutObject; larger bodies use a
// multipart upload. It is Mastodon's own threshold (15 MiB).
const MultipartThreshold = 15 << 20

// PartSize is the size of each multipart part but the last, in bytes. Put raises it for bodies
// that would need more than MaxParts parts, and never uses less than MinPartSize. Tests may
// lower it (not below MinPartSize).
var PartSize int64 = 16 << 20

// MinPartSize is S3's smallest allowed part size (except the last part).
const MinPartSize = 5 << 20

// MaxParts is S3's largest allowed number of parts in one upload.
const MaxParts = 10000

// abortTimeout bounds AbortMultipartUpload, which runs on a fresh context after a failure.
const abortTimeout = 30 * time.Second

// ObjectInfo is what HEAD/GET tell about an object.
type ObjectInfo struct {
	Size               int64  // bytes
	ContentType        string // "" when the server sent none
	CacheControl       string
	ContentDisposition string
	ETag               string // without quotes; for multipart uploads not an MD5
	LastModified       time.Time
}

// PutOptions are the headers Put stores with an object. Empty fields are not sent.
type PutOptions struct {
	ContentType        string
	CacheControl       string
	ContentDisposition string
	// ContentMD5 is the base64 MD5 of the whole body, optional. A single PutObject sends it so the
	// destination verifies the body; a multipart upload (which cannot send it) checks the streamed
	// body against it before completing and aborts on a mismatch (ErrChecksumMismatch).
	ContentMD5 string
	// ACL overrides the client's canned ACL for this object when the client has one ("" = the
	// client's ACL). A client configured with no ACL sends none, override or not: a bucket with
	// ACLs disabled refuses every ACL header.
	ACL string
	// OnUploadStart, when set, is called with the upload ID of a multipart upload (Put or
	// CopyFrom) after CreateMultipartUpload and before the first part, so that the caller can
	// record it durably: if the process dies, the upload can be aborted later (AbortUpload). An
	// error aborts the upload and fails the call. OnUploadEnd is called once the upload is
	// completed or its abort verified: nothing of it is left at the destination.
	OnUploadStart func(uploadID string) error
	OnUploadEnd   func(uploadID string)
}

// unsignedPayload signs requests with UNSIGNED-PAYLOAD: bodies are streamed and not seekable, so
// their SHA-256 cannot be computed before sending.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	return nil
}

// Get opens the object at key (relative to KeyPrefix) for streaming. The caller must close the
// body. A read error from the body is an *Error with Op "read" and classifies like any other.
func (c *Client) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return nil, ObjectInfo{}, c.newError(ctx, "get", full, err)
	}
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(full)})
	if err != nil {
		return nil, ObjectInfo{}, c.newError(ctx, "get", full, err)
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		// Without it a short body cannot be told from a whole one.
		out.Body.Close()
		return nil, ObjectInfo{}, c.newError(ctx, "get", full, fmt.Errorf("%w: the answer has no Content-Length", ErrBodyLength))
	}
	info := ObjectInfo{
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		CacheControl:       aws.ToString(out.CacheControl),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		ETag:               strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified:       aws.ToTime(out.LastModified),
	}
	return &bodyReader{ctx: ctx, body: out.Body, c: c, key: full, size: info.Size}, info, nil
}

// bodyReader wraps read errors of a GET body in *Error, and fails (ErrBodyLength) when the body
// ends before or runs past its Content-Length.
type bodyReader struct {
	ctx  context.Context // Get's, to tell the caller's cancellation from a network failure
	body io.ReadCloser
	c    *Client
	key  string
	size int64 // Content-Length
	read int64
}

func (r *bodyReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.read += int64(n)
	switch {
	case r.read > r.size:
		err = fmt.Errorf("%w: the body runs past the %d bytes announced", ErrBodyLength, r.size)
	case err == io.EOF && r.read < r.size:
		err = fmt.Errorf("%w: the body ended after %d of the %d bytes announced: %w", ErrBodyLength, r.read, r.size, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		err = r.c.newError(r.ctx, "read", r.key, err)
	}
	return n, err
}

func (r *bodyReader) Close() error { return r.body.Close() }

// Head returns what the server knows about the object at key without its body.
func (c *Client) Head(ctx context.Context, key string) (ObjectInfo, error) {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, c.newError(ctx, "head", full, err)
	}
	out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(full)})
	if err != nil {
		return ObjectInfo{}, c.newError(ctx, "head", full, err)
	}
	return ObjectInfo{
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		CacheControl:       aws.ToString(out.CacheControl),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		ETag:               strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified:       aws.ToTime(out.LastModified),
	}, nil
}

// Delete removes the object at key. Deleting an absent object is not an error on most servers.
func (c *Client) Delete(ctx context.Context, key string) error {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return c.newError(ctx, "delete", full, err)
	}
	_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(full)})
	return c.newError(ctx, "delete", full, err)
}

// CheckBucket proves endpoint, credentials and bucket with one cheap request: HeadBucket, or
// ListObjectsV2 with max-keys 1 when HeadBucket is refused or unsupported. A missing bucket
// gives an error for which IsNoSuchBucket holds.
func (c *Client) CheckBucket(ctx context.Context) error {
	_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.bucket)})
	if err == nil {
		return nil
	}
	if _, status := apiInfo(err); status == 403 || status == 405 || status == 501 {
		_, err = c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), MaxKeys: aws.Int32(1)})
		if err == nil {
			return nil
		}
	}
	e := c.newError(ctx, "check bucket", "", err).(*Error)
	if e.Status == 404 && (e.Code == "NotFound" || e.Code == "") {
		// HEAD responses have no body, so the SDK can only say "NotFound".
		e.Code, e.Message = "NoSuchBucket", "the bucket does not exist"
	}
	return e
}

// Put streams exactly size bytes of body (size may be 0) to key with opts and the client's ACL.
// Bodies up to MultipartThreshold go in one PutObject; larger ones in a multipart upload whose
// parts are streamed from body without buffering. A failed or cancelled multipart upload is
// aborted. If body yields fewer or more than size bytes, Put fails with ErrSizeMismatch and stores
// nothing; a read error of body is returned wrapped, so it classifies as the body's error.
func (c *Client) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) error {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return c.newError(ctx, "put", full, err)
	}
	if size < 0 {
		return c.newError(ctx, "put", full, fmt.Errorf("negative size %d", size))
	}
	r := &exactReader{r: body, remaining: size, size: size}
	var st putState
	var err error
	if size <= MultipartThreshold {
		err = c.putSingle(ctx, full, r, size, opts)
	} else {
		err = c.putMultipart(ctx, full, r, size, opts, &st)
	}
	// The transport may go on reading body in the background after a request failed; from here
	// on it cannot, so the caller may close body once Put returns.
	bodyErr := r.stop()
	if err == nil {
		return nil
	}
	if bodyErr != nil {
		// The transport reports a failed body read in its own words, if at all; the body's own
		// error is what the caller needs to see and classify.
		err = bodyErr
	}
	e := c.newError(ctx, "put", full, err).(*Error)
	e.Step, e.Note = st.step, st.note
	return e
}

// putState records where a multipart upload failed, for the error message.
type putState struct {
	step string // the request that failed, e.g. "upload part 2 of 3"
	note string // e.g. a failed abort
}

func (c *Client) putSingle(ctx context.Context, key string, r *exactReader, size int64, opts PutOptions) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(c.bucket),
		Key:           aws.String(key),
		Body:          r,
		ContentLength: aws.Int64(size),
	}
	if size == 0 {
		// Send no body at all, but still insist that the reader is empty.
		if err := r.checkEmpty(); err != nil {
			return err
		}
		in.Body = nil
	}
	setString(&in.ContentType, opts.ContentType)
	setString(&in.CacheControl, opts.CacheControl)
	setString(&in.ContentDisposition, opts.ContentDisposition)
	setString(&in.ContentMD5, opts.ContentMD5)
	if acl := c.aclFor(opts); acl != "" {
		in.ACL = types.ObjectCannedACL(acl)
	}
	_, err := c.s3.PutObject(abortiveClose(ctx), in, unsignedPayload)
	if err != nil {
		return err
	}
	// Defensive: the transport stops reading at ContentLength, and exactReader fails the last
	// read when more data follows, so a success here has always seen all of body.
	if remaining, err := r.state(); err != nil || remaining != 0 {
		return fmt.Errorf("%w: stored object may be incomplete", ErrSizeMismatch)
	}
	return nil
}

func (c *Client) putMultipart(ctx context.Context, key string, r *exactReader, size int64, opts PutOptions, st *putState) (err error) {
	partSize := max(PartSize, MinPartSize, (size+MaxParts-1)/MaxParts)
	nparts := (size + partSize - 1) / partSize
	if opts.ContentMD5 != "" {
		r.md5 = md5.New()
	}
	create := &s3.CreateMultipartUploadInput{Bucket: aws.String(c.bucket), Key: aws.String(key)}
	setString(&create.ContentType, opts.ContentType)
	setString(&create.CacheControl, opts.CacheControl)
	setString(&create.ContentDisposition, opts.ContentDisposition)
	if acl := c.aclFor(opts); acl != "" {
		create.ACL = types.ObjectCannedACL(acl)
	}
	st.step = "create multipart upload"
	up, err := c.s3.CreateMultipartUpload(ctx, create)
	if err != nil {
		return err
	}
	uploadID := up.UploadId
	completed := false
	defer func() { c.endUpload(ctx, key, uploadID, completed, opts, st) }()
	if opts.OnUploadStart != nil {
		st.step = "record multipart upload"
		if err := opts.OnUploadStart(aws.ToString(uploadID)); err != nil {
			return err
		}
	}

	parts := make([]types.CompletedPart, 0, nparts)
	for n := int32(1); ; n++ {
		remaining, err := r.state()
		if err != nil {
			return err
		}
		if remaining == 0 {
			break
		}
		st.step = fmt.Sprintf("upload part %d of %d", n, nparts)
		if err := ctx.Err(); err != nil {
			return err
		}
		length := min(partSize, remaining)
		out, err := c.s3.UploadPart(abortiveClose(ctx), &s3.UploadPartInput{
			Bucket:        aws.String(c.bucket),
			Key:           aws.String(key),
			UploadId:      uploadID,
			PartNumber:    aws.Int32(n),
			ContentLength: aws.Int64(length),
			Body:          io.LimitReader(r, length),
		}, unsignedPayload)
		if err != nil {
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	if opts.ContentMD5 != "" {
		if got := r.sumMD5(); got != opts.ContentMD5 {
			st.step = "verify body"
			return fmt.Errorf("%w: body has %s, want %s", ErrChecksumMismatch, got, opts.ContentMD5)
		}
	}
	st.step = "complete multipart upload"
	_, err = c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(c.bucket),
		Key:             aws.String(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return err
	}
	completed = true
	return nil
}

// endUpload finishes a multipart upload's bookkeeping: an upload not completed is aborted (a
// failed abort is noted in st), and OnUploadEnd hears of an upload that is gone either way.
func (c *Client) endUpload(ctx context.Context, key string, uploadID *string, completed bool, opts PutOptions, st *putState) {
	if !completed {
		if aerr := c.abort(ctx, key, uploadID); aerr != nil {
			st.note = fmt.Sprintf("abort multipart upload %s also failed: %s", aws.ToString(uploadID), aerr.detail())
			return
		}
	}
	if opts.OnUploadEnd != nil {
		opts.OnUploadEnd(aws.ToString(uploadID))
	}
}

// AbortUpload aborts the multipart upload uploadID of key (relative to the key prefix), as
// recorded through PutOptions.OnUploadStart by a process that died, and checks that it is
// gone. An upload that no longer exists (completed, or aborted already) is not an error.
func (c *Client) AbortUpload(ctx context.Context, key, uploadID string) error {
	if aerr := c.abort(ctx, c.Key(key), aws.String(uploadID)); aerr != nil {
		return aerr
	}
	return nil
}

// Upload is an incomplete multipart upload at the bucket.
type Upload struct {
	Key       string // relative to the key prefix
	UploadID  string
	Initiated time.Time
}

// ListUploads calls fn for every incomplete multipart upload whose key starts with prefix
// (relative to the key prefix), page by page.
func (c *Client) ListUploads(ctx context.Context, prefix string, fn func(Upload) error) error {
	full := c.Key(prefix)
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(c.bucket), Prefix: aws.String(full)}
	for {
		out, err := c.s3.ListMultipartUploads(ctx, in)
		if err != nil {
			return c.newError(ctx, "list uploads", full, err)
		}
		for _, u := range out.Uploads {
			key := aws.ToString(u.Key)
			if c.prefix != "" {
				key = strings.TrimPrefix(key, c.prefix+"/")
			}
			if err := fn(Upload{Key: key, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// abort removes a multipart upload, so that its parts are neither billed nor left behind. It
// uses a fresh context, so it also runs after ctx was cancelled.
//
// A part request that failed on our side (broken body, cancel) may still be running on the
// server, which can then store the part after the abort and bring the upload back (the AWS
// AbortMultipartUpload documentation warns of this; Versity's posix backend shows it). So abort
// checks with ListParts that the upload is gone and aborts again if not. This is cleanup, not a
// retry of the caller's operation.
func (c *Client) abort(ctx context.Context, key string, uploadID *string) *Error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	var lastErr error
	for attempt := range abortAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return c.newError(ctx, "abort", key, ctx.Err()).(*Error)
			}
		}
		_, err := c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(c.bucket), Key: aws.String(key), UploadId: uploadID,
		})
		if err != nil && !isNoSuchUpload(err) {
			lastErr = err
			if IsRetryable(err) {
				continue
			}
			break
		}
		_, err = c.s3.ListParts(ctx, &s3.ListPartsInput{
			Bucket: aws.String(c.bucket), Key: aws.String(key), UploadId: uploadID, MaxParts: aws.Int32(1),
		})
		switch {
		case err == nil:
			lastErr = errors.New("upload still exists after abort")
		case isNoSuchUpload(err):
			return nil
		default:
			// Cannot verify (a key without s3:ListMultipartUploadParts, say); the abort succeeded.
			return nil
		}
	}
	if lastErr == nil {
		return nil
	}
	return c.newError(ctx, "abort", key, lastErr).(*Error)
}

// abortAttempts bounds the abort-and-verify rounds of Client.abort.
const abortAttempts = 5

func isNoSuchUpload(err error) bool {
	code, status := apiInfo(err)
	return code == "NoSuchUpload" || status == 404
}

func setString(dst **string, s string) {
	if s != "" {
		*dst = aws.String(s)
	}
}

// exactReader yields exactly size bytes of r. It fails (ErrSizeMismatch) when r ends early, and
// when r has more data: it checks for that before handing out the last bytes, so the request
// breaks before the server has the full Content-Length and stores nothing. It keeps the first
// error. Its methods are safe to call while the transport reads it from another goroutine.
type exactReader struct {
	mu        sync.Mutex // held during reads of r
	r         io.Reader
	size      int64
	remaining int64
	md5       hash.Hash // when set, every byte handed out is hashed
	err       error
	stopped   bool
}

// errStopped is what a transport still reading the body sees after Put returned.
var errStopped = errors.New("put already returned")

func (e *exactReader) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return 0, errStopped
	}
	if e.err != nil {
		return 0, e.err
	}
	if e.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	switch {
	case err == io.EOF && e.remaining > 0:
		e.err = fmt.Errorf("%w: body ended after %d of %d bytes", ErrSizeMismatch, e.size-e.remaining, e.size)
	case err != nil && err != io.EOF:
		e.err = fmt.Errorf("read body: %w", err)
	case e.remaining == 0:
		e.probe()
	}
	if e.err != nil {
		return 0, e.err
	}
	if e.md5 != nil {
		e.md5.Write(p[:n])
	}
	return n, nil
}

// probe makes sure r has nothing after the last expected byte. e.mu must be held.
func (e *exactReader) probe() {
	var b [1]byte
	for range 100 {
		n, err := e.r.Read(b[:])
		if n > 0 {
			e.err = fmt.Errorf("%w: body is longer than %d bytes", ErrSizeMismatch, e.size)
			return
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			e.err = fmt.Errorf("read body: %w", err)
			return
		}
	}
	e.err = fmt.Errorf("read body: %w", io.ErrNoProgress)
}

// checkEmpty fails unless r is at its end; for size 0.
func (e *exactReader) checkEmpty() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil && e.remaining == 0 {
		e.probe()
	}
	return e.err
}

// state returns the number of bytes still expected and the first error.
func (e *exactReader) state() (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.remaining, e.err
}

// sumMD5 returns the base64 MD5 of the bytes handed out so far.
func (e *exactReader) sumMD5() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.md5 == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(e.md5.Sum(nil))
}

// stop waits for a read in progress, makes every later read fail without touching r, and
// returns the first error.
func (e *exactReader) stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	return e.err
}
