package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// fakeBucket is an in-memory bucket with injectable errors, used where the behaviour under
// test is the engine's policy rather than S3 itself (the integration tests use a real server).
type fakeBucket struct {
	mu      sync.Mutex
	objects map[string]fakeObject
	getErr  func(key string, attempt int) error // nil = none
	putErr  func(key string) error
	gets    map[string]int
	puts    map[string]storage.PutOptions
	block   chan struct{}                      // when set, Put waits for it (or ctx)
	etags   bool                               // Get reports the body's MD5 as ETag, Put verifies Content-MD5
	corrupt func(key string, attempt int) bool // Get flips a byte of the body
}

type fakeObject struct {
	body []byte
	info storage.ObjectInfo
}

func newFakeBucket() *fakeBucket {
	return &fakeBucket{objects: map[string]fakeObject{}, gets: map[string]int{}, puts: map[string]storage.PutOptions{}}
}

// Errors the storage classifiers accept, as they accept the real client's.
var (
	errNotFound = fmt.Errorf("s3 get: NoSuchKey (HTTP 404): %w", os.ErrNotExist)
	errSlowDown = fmt.Errorf("s3 get: connection reset: %w", syscall.ECONNRESET)
)

func (b *fakeBucket) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	b.mu.Lock()
	b.gets[key]++
	n := b.gets[key]
	o, ok := b.objects[key]
	b.mu.Unlock()
	if b.getErr != nil {
		if err := b.getErr(key, n); err != nil {
			return nil, storage.ObjectInfo{}, err
		}
	}
	if !ok {
		return nil, storage.ObjectInfo{}, errNotFound
	}
	info := o.info
	info.Size = int64(len(o.body))
	body := o.body
	if b.etags {
		sum := md5.Sum(body)
		info.ETag = hex.EncodeToString(sum[:])
	}
	if b.corrupt != nil && b.corrupt(key, n) && len(body) > 0 {
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0xff
	}
	return io.NopCloser(bytes.NewReader(body)), info, nil
}

func (b *fakeBucket) Put(ctx context.Context, key string, body io.Reader, size int64, opts storage.PutOptions) error {
	if b.block != nil {
		select {
		case <-b.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.putErr != nil {
		if err := b.putErr(key); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(data)) != size {
		return fmt.Errorf("short body: %d of %d", len(data), size)
	}
	if opts.ContentMD5 != "" {
		sum := md5.Sum(data)
		if base64.StdEncoding.EncodeToString(sum[:]) != opts.ContentMD5 {
			return &storage.Error{Op: "put", Bucket: "dst", Key: key, Code: "BadDigest", Status: 400, Message: "The Content-MD5 you specified did not match what we received."}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = fakeObject{body: data, info: storage.ObjectInfo{ContentType: opts.ContentType, CacheControl: opts.CacheControl, ContentDisposition: opts.ContentDisposition}}
	b.puts[key] = opts
	return nil
}

func newDB(t *testing.T, objs ...checkpoint.Object) *checkpoint.DB {
	t.Helper()
	db, err := checkpoint.Open(filepath.Join(t.TempDir(), "c.db"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.Merge(objs); err != nil {
		t.Fatal(err)
	}
	return db
}

func obj(id int64, candidates ...string) checkpoint.Object {
	return checkpoint.Object{Kind: "media_attachments", RecordID: id, Attachment: "file", Style: "original", Candidates: candidates}
}

func fastOptions() CopyOptions {
	return CopyOptions{Concurrency: 4, Retries: 3, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		FlushEvery: 5 * time.Millisecond, Log: zerolog.Nop()}
}

func get(t *testing.T, db *checkpoint.DB, o checkpoint.Object) checkpoint.Object {
	t.Helper()
	got, ok, err := db.Get(o.ID())
	if err != nil || !ok {
		t.Fatalf("get %s: %v %v", o.ID(), ok, err)
	}
	return got
}

func TestCopyCandidatesAndStatuses(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	src.objects["a/original/x.jpg"] = fakeObject{body: []byte("first"), info: storage.ObjectInfo{ContentType: "image/jpeg", CacheControl: "max-age=1"}}
	src.objects["a/flip/y.jpg"] = fakeObject{body: []byte("fallback")}
	src.objects["denied"] = fakeObject{body: []byte("x")}
	src.getErr = func(key string, _ int) error {
		if key == "denied" {
			return errors.New("s3 get denied: AccessDenied (HTTP 403)")
		}
		return nil
	}
	first, fallback, missing, denied := obj(1, "a/original/x.jpg", "b"), obj(2, "a/computed/y.jpg", "a/flip/y.jpg"), obj(3, "nope", "nope2"), obj(4, "denied")
	fallback.ContentType = "image/jpeg"
	db := newDB(t, first, fallback, missing, denied)

	sum, err := Copy(context.Background(), db, src, dst, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.Missing != 1 || sum.Failed != 1 || sum.Left != 0 || sum.Bytes != int64(len("first")+len("fallback")) {
		t.Errorf("summary %+v", sum)
	}
	// Found under a fallback key, written where Mastodon asks for it (the first candidate).
	if string(dst.objects["a/computed/y.jpg"].body) != "fallback" {
		t.Error("fallback candidate not written to the first candidate's key")
	}
	if _, ok := dst.objects["a/flip/y.jpg"]; ok {
		t.Error("fallback candidate also written to its own key")
	}
	if got := get(t, db, fallback); got.Status != checkpoint.Done || got.SourceKey != "a/flip/y.jpg" || got.Bytes != 8 {
		t.Errorf("fallback %+v", got)
	}
	// Headers: kept from the source, else the database's content type and Mastodon's cache control.
	if o := dst.puts["a/original/x.jpg"]; o.ContentType != "image/jpeg" || o.CacheControl != "max-age=1" {
		t.Errorf("first put %+v", o)
	}
	if o := dst.puts["a/computed/y.jpg"]; o.ContentType != "image/jpeg" || o.CacheControl != catalog.CacheControl {
		t.Errorf("fallback put %+v", o)
	}
	if got := get(t, db, missing); got.Status != checkpoint.Missing || !strings.Contains(got.Error, "nope, nope2") {
		t.Errorf("missing %+v", got)
	}
	// Not retryable: one attempt.
	if got := get(t, db, denied); got.Status != checkpoint.Failed || got.Attempts != 1 || src.gets["denied"] != 1 {
		t.Errorf("denied %+v after %d gets", got, src.gets["denied"])
	}
}

func TestCopySniffsContentTypeWhenNobodyKnowsIt(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 600)...)
	src.objects["p"] = fakeObject{body: png}
	db := newDB(t, obj(1, "p"))
	if _, err := Copy(context.Background(), db, src, dst, fastOptions()); err != nil {
		t.Fatal(err)
	}
	if ct := dst.puts["p"].ContentType; ct != "image/png" {
		t.Errorf("content type %q", ct)
	}
	if !bytes.Equal(dst.objects["p"].body, png) {
		t.Error("sniffing lost bytes")
	}
}

func TestCopyRetriesRetryableErrors(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	src.objects["flaky"] = fakeObject{body: []byte("ok")}
	src.objects["broken"] = fakeObject{body: []byte("never")}
	src.getErr = func(key string, attempt int) error {
		if (key == "flaky" && attempt <= 2) || key == "broken" {
			return errSlowDown
		}
		return nil
	}
	flaky, broken := obj(1, "flaky"), obj(2, "broken")
	db := newDB(t, flaky, broken)
	sum, err := Copy(context.Background(), db, src, dst, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, flaky); got.Status != checkpoint.Done || got.Attempts != 3 {
		t.Errorf("flaky %+v", got)
	}
	if got := get(t, db, broken); got.Status != checkpoint.Failed || got.Attempts != 4 || !strings.Contains(got.Error, "gave up after 4 attempts") {
		t.Errorf("broken %+v", got)
	}
	if sum.Retries != 2+3 {
		t.Errorf("retries %d, want 5", sum.Retries)
	}
}

// Cancelling stops taking work; objects whose copy was cut off stay pending, never done.
func TestCopyCancelLeavesUnfinishedPending(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	var objs []checkpoint.Object
	for i := int64(1); i <= 50; i++ {
		key := fmt.Sprintf("k%d", i)
		src.objects[key] = fakeObject{body: []byte(key)}
		objs = append(objs, obj(i, key))
	}
	db := newDB(t, objs...)
	dst.block = make(chan struct{}) // every PUT hangs until the work context is cancelled
	ctx, cancel := context.WithCancel(context.Background())
	abort := make(chan struct{})
	opts := fastOptions()
	opts.Grace = time.Hour
	opts.Abort = abort
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
		time.Sleep(20 * time.Millisecond)
		close(abort) // the second Ctrl-C
	}()
	sum, err := Copy(ctx, db, src, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Done != 0 || sum.Failed != 0 || sum.Left != 50 {
		t.Errorf("summary %+v", sum)
	}
	if n := len(dst.objects); n != 0 {
		t.Errorf("%d objects written", n)
	}
}

// The grace period lets in-flight copies finish and records them as done.
func TestCopyGraceFinishesInFlight(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	var objs []checkpoint.Object
	for i := int64(1); i <= 20; i++ {
		key := fmt.Sprintf("k%d", i)
		src.objects[key] = fakeObject{body: []byte(key)}
		objs = append(objs, obj(i, key))
	}
	db := newDB(t, objs...)
	dst.block = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	opts := fastOptions()
	opts.Grace = time.Minute
	go func() {
		time.Sleep(50 * time.Millisecond) // four PUTs are now waiting
		cancel()
		time.Sleep(20 * time.Millisecond)
		close(dst.block) // …and finish within the grace period
	}()
	sum, err := Copy(ctx, db, src, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 4 || sum.Left != 16 || !sum.Interrupted {
		t.Errorf("summary %+v, want the 4 in-flight copies done and 16 left", sum)
	}
}

func TestCopyLimitAndKinds(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	var objs []checkpoint.Object
	for i := int64(1); i <= 10; i++ {
		key := fmt.Sprintf("k%d", i)
		src.objects[key] = fakeObject{body: []byte(key)}
		o := obj(i, key)
		if i > 5 {
			o.Kind = "accounts"
		}
		objs = append(objs, o)
	}
	db := newDB(t, objs...)
	opts := fastOptions()
	opts.Limit, opts.Kinds = 3, []string{"accounts"}
	sum, err := Copy(context.Background(), db, src, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 3 || sum.Left != 2 {
		t.Errorf("summary %+v", sum)
	}
	for k := range dst.objects {
		if k < "k6" && k != "k10" {
			t.Errorf("copied %s of another kind", k)
		}
	}
}

// An error every object would get (here: the bucket takes no ACLs) ends the run with that
// error instead of marking the whole catalog failed; the objects stay pending.
func TestCopyStopsOnBucketWideError(t *testing.T) {
	src, dst := newFakeBucket(), newFakeBucket()
	var objs []checkpoint.Object
	for i := int64(1); i <= 100; i++ {
		key := fmt.Sprintf("k%d", i)
		src.objects[key] = fakeObject{body: []byte(key)}
		objs = append(objs, obj(i, key))
	}
	db := newDB(t, objs...)
	dst.putErr = func(string) error {
		return &storage.Error{Op: "put", Bucket: "dst", Code: "AccessControlListNotSupported", Status: 400, Message: "The bucket does not allow ACLs"}
	}
	sum, err := Copy(context.Background(), db, src, dst, fastOptions())
	if err == nil || !strings.Contains(err.Error(), "AccessControlListNotSupported") {
		t.Fatalf("err = %v", err)
	}
	if sum.Failed != 0 || sum.Left != 100 {
		t.Errorf("summary %+v: want nothing failed, all 100 still pending", sum)
	}
}
