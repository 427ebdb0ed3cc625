package storage_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	seen []string // "op outcome"
}

func (r *recorder) ObserveRequest(op, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		outcome += " (negative duration)"
	}
	r.seen = append(r.seen, op+" "+outcome)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// Every request reaches the Observer once, named by its S3 operation and classified by what
// the server (or the network) answered.
func TestObserverSeesEveryRequest(t *testing.T) {
	rec := &recorder{}
	srv, bucket, c, proxy := setupProxy(t, func(cfg *storage.Config) { cfg.Observer = rec })
	srv.PutObject(t, bucket, "a.png", []byte("png"), "image/png", "")
	ctx := context.Background()

	get := func(key string) {
		body, _, err := c.Get(ctx, key)
		if err == nil {
			body.Close()
		}
	}
	if err := c.Put(ctx, "b.png", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	get("a.png")
	get("absent.png")
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow.png"):
			return s3test.Status(http.StatusServiceUnavailable, "SlowDown")
		case strings.HasSuffix(r.URL.Path, "/denied.png"):
			return s3test.Status(http.StatusForbidden, "AccessDenied")
		case strings.HasSuffix(r.URL.Path, "/broken.png"):
			return s3test.Status(http.StatusInternalServerError, "InternalError")
		case strings.HasSuffix(r.URL.Path, "/reset.png"):
			return s3test.Reset()
		case strings.HasSuffix(r.URL.Path, "/stall.png"):
			return s3test.Delay(time.Minute)
		}
		return s3test.Pass()
	})
	get("slow.png")
	get("denied.png")
	get("broken.png")
	get("reset.png")
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Head(cctx, "stall.png"); err == nil {
		t.Fatal("stalled HEAD succeeded")
	}
	if err := c.CheckBucket(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{"PutObject ok", "GetObject ok", "GetObject not_found", "GetObject throttled",
		"GetObject client_error", "GetObject server_error", "GetObject network_error", "HeadObject canceled", "HeadBucket ok"}
	if got := rec.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("observed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOutcomeOfPlainErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if got := storage.Outcome(ctx, nil); got != storage.OutcomeOK {
		t.Errorf("nil: %s", got)
	}
	if got := storage.Outcome(ctx, context.DeadlineExceeded); got != storage.OutcomeNetwork {
		t.Errorf("a timeout with the context alive: %s", got)
	}
	cancel()
	if got := storage.Outcome(ctx, context.Canceled); got != storage.OutcomeCanceled {
		t.Errorf("cancelled: %s", got)
	}
}
