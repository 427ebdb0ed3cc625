package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// elsewhere is another HTTP server, the target of hostile redirects: it answers every request
// with its own body and records what it received.
type elsewhere struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

const elsewhereBody = "a body from another host, not the object"

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r.Header.Clone())
		e.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef-2"`)
		_, _ = io.WriteString(w, elsewhereBody)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) requests() []http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]http.Header(nil), e.seen...)
}

// A redirect is never followed, for GET, HEAD and PUT alike: not to another host name, not to
// the same IP on another port (where Go's client would forward the signed Authorization
// header), not for an object the source does not even hold. The 3xx is a permanent error of
// that object, saying where it pointed.
func TestRedirectsAreNotFollowed(t *testing.T) {
	srv, bucket, c, proxy := setupProxy(t)
	_ = srv
	other := newElsewhere(t)
	if err := c.Put(context.Background(), "here.txt", strings.NewReader("the real object"), 15, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// The same server by another name (localhost), and by its IP on its own port.
	byName := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	for _, target := range []string{byName, other.URL} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			proxy.SetRule(func(r *http.Request) s3test.Fault {
				if strings.HasPrefix(r.URL.Path, "/"+bucket+"/") {
					return s3test.Redirect(status, target+r.URL.Path+"?token=do-not-print")
				}
				return s3test.Pass()
			})
			for _, key := range []string{"here.txt", "absent.txt"} {
				body, _, err := c.Get(context.Background(), key)
				if err == nil {
					got, _ := io.ReadAll(body)
					body.Close()
					t.Fatalf("%d to %s: get %s followed the redirect and read %q", status, target, key, got)
				}
				msg := err.Error()
				if !strings.Contains(msg, "redirected to "+target+"/") || !strings.Contains(msg, "does not follow") {
					t.Errorf("%d: message does not say where it was redirected: %s", status, msg)
				}
				if strings.Contains(msg, "do-not-print") {
					t.Errorf("the redirect's query is in the message: %s", msg)
				}
				if storage.IsRetryable(err) || storage.IsNotFound(err) || storage.IsBucketWide(err) {
					t.Errorf("%d: retryable %v, not found %v, bucket-wide %v; want a permanent error of this object: %s",
						status, storage.IsRetryable(err), storage.IsNotFound(err), storage.IsBucketWide(err), msg)
				}
			}
			if _, err := c.Head(context.Background(), "here.txt"); err == nil {
				t.Errorf("%d: head followed the redirect", status)
			}
			err := c.Put(context.Background(), "put.txt", strings.NewReader("data"), 4, storage.PutOptions{})
			if err == nil || !strings.Contains(err.Error(), "redirected to") {
				t.Errorf("%d: put: %v", status, err)
			}
		}
	}
	if got := other.requests(); len(got) > 0 {
		t.Errorf("the other host received %d request(s); Authorization of the first: %q", len(got), got[0].Get("Authorization"))
	}
}

// A 301, what a bucket in another region answers (PermanentRedirect, with a body for GET, none
// for HEAD), still stops the run as an error every object would get.
func TestPermanentRedirectIsBucketWide(t *testing.T) {
	_, bucket, c, proxy := setupProxy(t)
	other := newElsewhere(t)
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		f := s3test.Status(http.StatusMovedPermanently, "PermanentRedirect")
		f.Message = "The bucket you are attempting to access must be addressed using the specified endpoint."
		f.Location = other.URL + r.URL.Path
		return f
	})
	_, _, getErr := c.Get(context.Background(), "a.txt")
	_, headErr := c.Head(context.Background(), "a.txt")
	bucketErr := c.CheckBucket(context.Background())
	for _, err := range []error{getErr, headErr, bucketErr} {
		if !storage.IsBucketWide(err) || storage.IsRetryable(err) {
			t.Errorf("bucket-wide %v, retryable %v: %v", storage.IsBucketWide(err), storage.IsRetryable(err), err)
		}
		if err != nil && !strings.Contains(err.Error(), "another endpoint") {
			t.Errorf("message does not say the endpoint is wrong: %v", err)
		}
	}
	if len(other.requests()) > 0 {
		t.Error("a 301 was followed")
	}
	_ = bucket
}

// A GET answer whose body does not match its Content-Length, or that has none, is a retryable
// error (ErrBodyLength), never a body of some other length.
func TestGetBodyMustMatchContentLength(t *testing.T) {
	_, _, c, proxy := setupProxy(t)
	want := bytes.Repeat([]byte("0123456789"), 1000)
	if err := c.Put(context.Background(), "obj", bytes.NewReader(want), int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, fault := range map[string]s3test.Fault{
		"no Content-Length":                   s3test.Chunked(),
		"no Content-Length and a short body":  {Chunked: true, Short: true, ShortLen: 10},
		"body cut before the Content-Length":  s3test.CutBody(5000),
		"no Content-Length, empty body":       {Chunked: true, Short: true, ShortLen: 0},
		"announced length longer than body":   {CutBody: true, CutAfter: 9999},
		"no Content-Length, cut mid-way body": {Chunked: true, CutBody: true, CutAfter: 100},
	} {
		proxy.SetRule(func(r *http.Request) s3test.Fault {
			if r.Method == http.MethodGet {
				return fault
			}
			return s3test.Pass()
		})
		body, info, err := c.Get(context.Background(), "obj")
		if err == nil {
			var got []byte
			got, err = io.ReadAll(body)
			body.Close()
			if err == nil {
				t.Errorf("%s: read %d bytes (Content-Length %d) without an error", name, len(got), info.Size)
				continue
			}
		}
		if !storage.IsRetryable(err) {
			t.Errorf("%s: not retryable: %v", name, err)
		}
		if name != "body cut before the Content-Length" && name != "announced length longer than body" && !errors.Is(err, storage.ErrBodyLength) {
			t.Errorf("%s: not ErrBodyLength: %v", name, err)
		}
	}
	proxy.SetRule(nil)
	if got, _ := readAll(t, c, "obj"); !bytes.Equal(got, want) {
		t.Error("the object itself does not read back")
	}
}

// A trickling server (the FaultProxy's Trickle) passes the idle timeout; it is the engine's
// per-attempt deadline that cuts it (engine, cmd/s3sync TestHostileSources). Here: the proxy
// really trickles, and what arrives is the object.
func TestTrickleFault(t *testing.T) {
	_, _, c, proxy := setupProxy(t)
	want := []byte("slow but whole")
	if err := c.Put(context.Background(), "obj", bytes.NewReader(want), int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy.SetRule(func(r *http.Request) s3test.Fault { return s3test.Trickle(20*time.Millisecond, 2) })
	start := time.Now()
	got, _ := readAll(t, c, "obj")
	if !bytes.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	if d := time.Since(start); d < 7*20*time.Millisecond {
		t.Errorf("took %s: the proxy did not trickle", d)
	}
}

// Answers whose XML is broken: an error classifies by its status (503 retryable, 404 not
// found, 500 after retries a failure), a 200 that cannot be read is an error that says so.
func TestBrokenXMLAnswers(t *testing.T) {
	_, _, c, proxy := setupProxy(t)
	if err := c.Put(context.Background(), "obj", strings.NewReader("data"), 4, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status              int
		body                string
		retryable, notFound bool
	}{
		{http.StatusServiceUnavailable, "<Error><Code>SlowDown</Co", true, false},
		{http.StatusInternalServerError, "<html><body>Bad Gateway", true, false},
		{http.StatusNotFound, "<?xml version=\"1.0\"?><Error><Code>NoSuchK", false, true},
		{http.StatusForbidden, "<Error><Code>AccessDenied</", false, false},
	} {
		proxy.SetRule(func(r *http.Request) s3test.Fault { return s3test.Raw(tc.status, "application/xml", tc.body) })
		_, _, err := c.Get(context.Background(), "obj")
		if err == nil || storage.IsRetryable(err) != tc.retryable || storage.IsNotFound(err) != tc.notFound || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tc.status)) {
			t.Errorf("%d with %q: retryable %v, not found %v: %v", tc.status, tc.body, storage.IsRetryable(err), storage.IsNotFound(err), err)
		}
	}
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		return s3test.Raw(http.StatusOK, "application/xml", "<?xml version=\"1.0\"?><ListBucketResult><Contents><Key>a")
	})
	err := c.List(context.Background(), "", func(storage.ListedObject) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "(HTTP 200) could not be read") || strings.Contains(err.Error(), "OK (HTTP 200)") {
		t.Errorf("broken listing: %v", err)
	}
}
