// Package s3test connects tests to the real S3 server that `make test` starts (the Versity S3
// Gateway), creates throw-away buckets, inspects them, and puts a fault-injecting proxy in front
// of the server.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3sync/s3sync/internal/testio"
	"github.com/s3sync/s3sync/storage"
)

// Environment variables naming the test server; `make test` sets them.
const (
	EnvEndpoint  = "S3SYNC_TEST_S3_ENDPOINT"
	EnvAccessKey = "S3SYNC_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "S3SYNC_TEST_S3_SECRET_KEY"
)

// EnvPrefixB is the prefix of the variables naming the second S3 implementation that
// `make test-providers` starts (SeaweedFS): S3SYNC_TEST_S3B_ENDPOINT, S3SYNC_TEST_S3B_ACCESS_KEY
// and S3SYNC_TEST_S3B_SECRET_KEY, written to .tools/test-providers-env.sh by scripts/seaweedfs.sh.
const EnvPrefixB = "S3SYNC_TEST_S3B"

// Region is the test server's region.
const Region = "us-east-1"

// Server is the test S3 server plus an administrative client for it.
type Server struct {
	Endpoint  string // e.g. http://127.0.0.1:7070
	Region    string
	AccessKey string
	SecretKey string

	s3 *s3.Client
}

// New returns the test server named by the S3SYNC_TEST_S3_* variables. When they are unset it
// fails the test if CI=true, and skips it otherwise.
func New(t testing.TB) *Server {
	t.Helper()
	return NewFromEnv(t, "S3SYNC_TEST_S3")
}

// NewFromEnv returns the test server named by the variables prefix+"_ENDPOINT",
// prefix+"_ACCESS_KEY" and prefix+"_SECRET_KEY" (New's are those of prefix "S3SYNC_TEST_S3";
// EnvPrefixB names SeaweedFS). When they are unset it fails the test if CI=true, and skips it
// otherwise.
func NewFromEnv(t testing.TB, prefix string) *Server {
	t.Helper()
	endpoint, access, secret := prefix+"_ENDPOINT", prefix+"_ACCESS_KEY", prefix+"_SECRET_KEY"
	s := &Server{
		Endpoint:  os.Getenv(endpoint),
		Region:    Region,
		AccessKey: os.Getenv(access),
		SecretKey: os.Getenv(secret),
	}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		how := "`make test`"
		if prefix == EnvPrefixB {
			how = "`make test-providers`"
		}
		msg := "no test S3 server: " + endpoint + ", " + access + " and " + secret + " are not all set; run " + how
		testio.Missing(t, msg)
	}
	s.s3 = s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return s
}

// NewSeaweed returns the SeaweedFS server of `make test-providers` (the EnvPrefixB variables),
// failing the test under CI=true and skipping it otherwise when they are unset.
func NewSeaweed(t testing.TB) *Server {
	t.Helper()
	return NewFromEnv(t, EnvPrefixB)
}

// ObjectURL is the path-style URL of key in bucket: endpoint/bucket/key, each key segment
// escaped.
func (s *Server) ObjectURL(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.Endpoint + "/" + url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

// AnonymousGet GETs key of bucket without credentials, as a browser would fetch a Mastodon
// media URL, and returns the HTTP status and body.
func (s *Server) AnonymousGet(t testing.TB, bucket, key string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.ObjectURL(bucket, key), nil)
	if err != nil {
		t.Fatalf("s3test: anonymous get s3://%s/%s: %v", bucket, key, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("s3test: anonymous get s3://%s/%s: %v", bucket, key, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("s3test: anonymous get s3://%s/%s: read body: %v", bucket, key, err)
	}
	return resp.StatusCode, body
}

// Config returns a storage.Config for bucket on this server, path style.
func (s *Server) Config(bucket string) storage.Config {
	return storage.Config{
		Endpoint:  s.Endpoint,
		Region:    s.Region,
		Bucket:    bucket,
		AccessKey: s.AccessKey,
		SecretKey: s.SecretKey,
		PathStyle: true,
	}
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

// bucketName returns "s3sync-<prefix>-<12 random hex digits>", a valid DNS-style bucket name of
// at most 60 characters: prefix is lowercased, runs of other characters become one hyphen, and
// it is cut to 40 characters.
func bucketName(prefix string) (string, error) {
	prefix = strings.Trim(notDNS.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return "s3sync-" + prefix + "-" + hex.EncodeToString(rnd[:]), nil
}

// NewBucket creates a bucket with a unique, valid name made from prefix (see bucketName; a test
// name will do) and removes its uploads, objects and itself when the test ends.
func (s *Server) NewBucket(t testing.TB, prefix string) string {
	t.Helper()
	bucket, err := bucketName(prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = s.s3.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(bucket),
		// Allow ACLs on objects, as Mastodon's buckets do (public-read).
		ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred,
	})
	if err != nil {
		t.Fatalf("s3test: create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { s.removeBucket(t, bucket) })
	return bucket
}

func (s *Server) removeBucket(t testing.TB, bucket string) {
	// Long tests leave tens of thousands of objects behind.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// A request the test broke off may still be finishing at the server and bring an upload or
	// object back, so go round a few times.
	var err error
	for round := range 5 {
		if round > 0 {
			time.Sleep(time.Duration(round) * 100 * time.Millisecond)
		}
		if uploads, err := s.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}); err == nil {
			for _, u := range uploads.Uploads {
				_, _ = s.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			}
		}
		s.deleteKeys(ctx, bucket, s.keys(ctx, t, bucket))
		if _, err = s.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err == nil {
			return
		}
	}
	t.Errorf("s3test: cleanup: delete bucket %s: %v", bucket, err)
}

// PutObject stores body at key in bucket with the given headers ("" sends none).
func (s *Server) PutObject(t testing.TB, bucket, key string, body []byte, contentType, cacheControl string) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if cacheControl != "" {
		in.CacheControl = aws.String(cacheControl)
	}
	if _, err := s.s3.PutObject(context.Background(), in); err != nil {
		t.Fatalf("s3test: put s3://%s/%s: %v", bucket, key, err)
	}
}

// GetObject returns the body and headers of the object at key in bucket, failing the test when
// it cannot be read.
func (s *Server) GetObject(t testing.TB, bucket, key string) ([]byte, storage.ObjectInfo) {
	t.Helper()
	out, err := s.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("s3test: get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("s3test: get s3://%s/%s: read body: %v", bucket, key, err)
	}
	return body, storage.ObjectInfo{
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		CacheControl:       aws.ToString(out.CacheControl),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		ETag:               strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified:       aws.ToTime(out.LastModified),
	}
}

// Keys returns every key in bucket, sorted.
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	return s.keys(context.Background(), t, bucket)
}

// deleteKeys removes keys a thousand at a time (DeleteObjects), one by one where a batch fails.
func (s *Server) deleteKeys(ctx context.Context, bucket string, keys []string) {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		batch := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			batch[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		_, err := s.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		if err != nil {
			for _, k := range keys[:n] {
				_, _ = s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
			}
		}
		keys = keys[n:]
	}
}

func (s *Server) keys(ctx context.Context, t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("s3test: list s3://%s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// ListMultipartUploads returns the number of multipart uploads in progress in bucket.
func (s *Server) ListMultipartUploads(t testing.TB, bucket string) int {
	t.Helper()
	out, err := s.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("s3test: list multipart uploads s3://%s: %v", bucket, err)
	}
	return len(out.Uploads)
}
