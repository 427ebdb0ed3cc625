package engine

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// fix-acl against a destination that answers every third PutObjectAcl with 503 SlowDown sets
// every ACL: the throttled calls are retried, none counts as an error. (The test server does
// not take object ACLs, so the proxy answers the others 200, as S3 does.)
func TestFixACLRidesOutThrottling(t *testing.T) {
	useFastRetries(t)
	const n = 30
	db, _, srv, dstBucket := copiedPair(t, n)
	dst, proxy := proxiedBucket(t, srv, dstBucket, func(cfg *storage.Config) { cfg.ACL = "public-read" })
	isACL := func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Has("acl") }
	rule, injected := throttleEvery(3, isACL, s3test.Fault{Status: http.StatusOK})
	proxy.SetRule(rule)

	var errs []string
	sum, err := FixACL(context.Background(), db, dst, FixACLOptions{Concurrency: 8, ACL: "public-read",
		OnError: func(key string, err error) { errs = append(errs, key+": "+err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, r := range proxy.Requests() {
		if r.Method == http.MethodPut && strings.Contains(r.RawQuery, "acl") {
			calls++
		}
	}
	t.Logf("%d PutObjectAcl calls, %d answered 503 SlowDown", calls, injected.Load())
	if injected.Load() < n/3 || calls != n+int(injected.Load()) {
		t.Errorf("%d PutObjectAcl calls with %d throttled; want %d plus one per throttled call", calls, injected.Load(), n)
	}
	if sum.Set != n || sum.Errors != 0 || sum.Vanished != 0 || len(errs) != 0 {
		t.Errorf("fix-acl: %+v, errors %v; want all %d set", sum, errs, n)
	}
}
