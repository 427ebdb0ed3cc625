package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// copiedPair fills a source bucket of the test S3 server with n objects, copies them with Copy
// to a destination bucket, and returns the checkpoint (every object done), the source client,
// the server and the destination bucket's name.
func copiedPair(t *testing.T, n int) (*checkpoint.DB, *storage.Client, *s3test.Server, string) {
	t.Helper()
	srv := s3test.New(t)
	srcBucket, dstBucket := srv.NewBucket(t, t.Name()+"-src"), srv.NewBucket(t, t.Name()+"-dst")
	var objs []checkpoint.Object
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("media_attachments/files/000/000/%03d/original/f%d.jpg", i, i)
		srv.PutObject(t, srcBucket, key, []byte(strings.Repeat("x", 100+i)), "image/jpeg", "")
		objs = append(objs, obj(int64(i), key))
	}
	db := newDB(t, objs...)
	src, err := storage.New(srv.Config(srcBucket))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := storage.New(srv.Config(dstBucket))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Copy(context.Background(), db, src, dst, fastOptions())
	if err != nil || sum.Done != int64(n) {
		t.Fatalf("copy: %+v, %v", sum, err)
	}
	return db, src, srv, dstBucket
}

// proxiedBucket returns a client of bucket on srv that goes through a fault-injecting proxy,
// and the proxy; modify, when given, changes the client's configuration first.
func proxiedBucket(t *testing.T, srv *s3test.Server, bucket string, modify ...func(*storage.Config)) (*storage.Client, *s3test.FaultProxy) {
	t.Helper()
	proxy := s3test.NewFaultProxy(t, srv.Endpoint)
	cfg := srv.Config(bucket)
	cfg.Endpoint = proxy.URL
	for _, m := range modify {
		m(&cfg)
	}
	c, err := storage.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, proxy
}

// throttleEvery returns a rule answering every nth request that matches with 503 SlowDown,
// and the count of answers it injected; the other requests pass, or get pass when set.
func throttleEvery(n int, matches func(*http.Request) bool, pass s3test.Fault) (func(*http.Request) s3test.Fault, *atomic.Int64) {
	var seen, injected atomic.Int64
	return func(r *http.Request) s3test.Fault {
		if !matches(r) {
			return s3test.Pass()
		}
		if seen.Add(1)%int64(n) == 0 {
			injected.Add(1)
			return s3test.Status(http.StatusServiceUnavailable, "SlowDown")
		}
		return pass
	}, &injected
}

// A destination that answers 20 % of HEADs with 503 SlowDown makes no object look wrong:
// verify retries each throttled HEAD, finds every object right and marks none failed.
func TestVerifyRidesOutThrottledHeads(t *testing.T) {
	useFastRetries(t)
	const n = 60
	db, src, srv, dstBucket := copiedPair(t, n)
	dst, proxy := proxiedBucket(t, srv, dstBucket)
	rule, injected := throttleEvery(5, func(r *http.Request) bool { return r.Method == http.MethodHead }, s3test.Pass())
	proxy.SetRule(rule)

	var problems []VerifyProblem
	sum, err := Verify(context.Background(), db, src, dst, VerifyOptions{Concurrency: 8, OnProblem: func(p VerifyProblem) { problems = append(problems, p) }})
	if err != nil {
		t.Fatal(err)
	}
	heads := proxy.Count(http.MethodHead)
	t.Logf("%d HEADs at the destination, %d answered 503 SlowDown", heads, injected.Load())
	if injected.Load() < n/5 {
		t.Errorf("only %d HEADs throttled; the test throttles every fifth", injected.Load())
	}
	if sum.Checked != n || sum.OK != n || sum.Problems != 0 || len(problems) != 0 {
		t.Errorf("verify: %+v, problems %v; want %d right and no false failure", sum, problems, n)
	}
	counts, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if got := counts["media_attachments"][checkpoint.Done].Objects; got != n || counts["media_attachments"][checkpoint.Failed].Objects != 0 {
		t.Errorf("checkpoint after verify: %v; want all %d done", counts, n)
	}
}
