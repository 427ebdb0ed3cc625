package storage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CopyThreshold is the largest object CopyFrom copies with one CopyObject request (S3's limit is
// 5 GiB); larger objects are copied with UploadPartCopy. Tests may lower it.
var CopyThreshold int64 = 5 << 30

// CopyPartSize is the part size of a multipart server-side copy; raised for objects that would
// need more than MaxParts parts, never below MinPartSize. Tests may lower it.
var CopyPartSize int64 = 512 << 20

// CopyFrom copies the object at srcKey of src (relative to src's KeyPrefix) to key of c
// (relative to c's KeyPrefix) inside the provider: no body passes through s3sync. size is the
// source object's size (from Head). The stored object gets opts' headers (the REPLACE metadata
// directive, so Content-Type, Cache-Control and Content-Disposition are exactly as a streamed
// Put would set them) and c's ACL; opts.ContentMD5 is not sent (CopyObject has no body) but,
// for a single-request copy whose result ETag is a plain MD5, checked against it
// (ErrChecksumMismatch). Objects above CopyThreshold are copied part by part with
// UploadPartCopy; a failed multipart copy is aborted. It needs c's credentials to be allowed to
// read src's bucket, which on most providers means the same account and endpoint.
func (c *Client) CopyFrom(ctx context.Context, src *Client, srcKey, key string, size int64, opts PutOptions) error {
	full := c.Key(key)
	if err := checkKey(key); err != nil {
		return c.newError(ctx, "copy", full, err)
	}
	if err := checkKey(srcKey); err != nil {
		return c.newError(ctx, "copy", full, err)
	}
	source := copySource(src.bucket, src.Key(srcKey))
	var st putState
	var err error
	if size <= CopyThreshold {
		err = c.copySingle(ctx, source, full, opts)
	} else {
		err = c.copyMultipart(ctx, source, full, size, opts, &st)
	}
	if err == nil {
		return nil
	}
	e := c.newError(ctx, "copy", full, err).(*Error)
	e.Step, e.Note = st.step, st.note
	return e
}

// copySource is the x-amz-copy-source value: bucket/key, each key segment URL-encoded ('+' too,
// which some servers would read as a space).
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return bucket + "/" + strings.Join(segs, "/")
}

func (c *Client) copySingle(ctx context.Context, source, key string, opts PutOptions) error {
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(c.bucket),
		Key:               aws.String(key),
		CopySource:        aws.String(source),
		MetadataDirective: types.MetadataDirectiveReplace,
	}
	setString(&in.ContentType, opts.ContentType)
	setString(&in.CacheControl, opts.CacheControl)
	setString(&in.ContentDisposition, opts.ContentDisposition)
	if acl := c.aclFor(opts); acl != "" {
		in.ACL = types.ObjectCannedACL(acl)
	}
	out, err := c.s3.CopyObject(ctx, in)
	if err != nil {
		return err
	}
	if opts.ContentMD5 != "" && out.CopyObjectResult != nil {
		got := strings.Trim(aws.ToString(out.CopyObjectResult.ETag), `"`)
		if sum, err := hex.DecodeString(got); err == nil && len(sum) == 16 {
			if want := hexOfBase64(opts.ContentMD5); want != "" && want != got {
				return fmt.Errorf("%w: the copy has ETag %s, the source %s", ErrChecksumMismatch, got, want)
			}
		}
	}
	return nil
}

func (c *Client) copyMultipart(ctx context.Context, source, key string, size int64, opts PutOptions, st *putState) error {
	partSize := max(CopyPartSize, MinPartSize, (size+MaxParts-1)/MaxParts)
	nparts := (size + partSize - 1) / partSize
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
	completed := false
	defer func() { c.endUpload(ctx, key, up.UploadId, completed, opts, st) }()
	if opts.OnUploadStart != nil {
		st.step = "record multipart upload"
		if err := opts.OnUploadStart(aws.ToString(up.UploadId)); err != nil {
			return err
		}
	}
	parts := make([]types.CompletedPart, 0, nparts)
	for n := int64(1); n <= nparts; n++ {
		st.step = fmt.Sprintf("upload part copy %d of %d", n, nparts)
		first := (n - 1) * partSize
		last := min(first+partSize, size) - 1
		out, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:          aws.String(c.bucket),
			Key:             aws.String(key),
			UploadId:        up.UploadId,
			PartNumber:      aws.Int32(int32(n)),
			CopySource:      aws.String(source),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
		})
		if err != nil {
			return err
		}
		var etag *string
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		parts = append(parts, types.CompletedPart{ETag: etag, PartNumber: aws.Int32(int32(n))})
	}
	st.step = "complete multipart upload"
	_, err = c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(c.bucket),
		Key:             aws.String(key),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return err
	}
	completed = true
	return nil
}

// hexOfBase64 turns a base64 MD5 (Content-MD5) into hex, "" when it is not one.
func hexOfBase64(b64 string) string {
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != 16 {
		return ""
	}
	return hex.EncodeToString(sum)
}

// ProbeCopy tries a server-side copy of srcKey from src to a temporary key of c and removes the
// copy again. A nil error means CopyFrom between these two clients works.
func (c *Client) ProbeCopy(ctx context.Context, src *Client, srcKey string) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".s3sync-probe/" + hex.EncodeToString(rnd[:])
	if err := c.copySingle(ctx, copySource(src.bucket, src.Key(srcKey)), c.Key(tmp), PutOptions{}); err != nil {
		e := c.newError(ctx, "copy", c.Key(tmp), err).(*Error)
		e.Step = "from s3://" + path(src.bucket, src.Key(srcKey))
		return e
	}
	return c.Delete(ctx, tmp)
}

// SameEndpoint reports whether c and other talk to the same endpoint and region, the first
// condition for a server-side copy between them.
func (c *Client) SameEndpoint(other *Client) bool {
	return c.endpoint == other.endpoint
}
