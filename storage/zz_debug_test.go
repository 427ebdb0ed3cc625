package storage_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

func TestZZDebug(t *testing.T) {
	srv := s3test.New(t)
	bucket := srv.NewBucket(t, "dbg")
	c := newClient(t, srv.Config(bucket))
	ctx := context.Background()
	prev := 0
	for i := 0; i < 20; i++ {
		body := newPattern(20 << 20)
		body.err = errBodyBroke
		c.Put(ctx, "broken", body, 40<<20, storage.PutOptions{})
		t0 := time.Now()
		for time.Since(t0) < 3*time.Second {
			if n := srv.ListMultipartUploads(t, bucket); n > prev {
				fmt.Fprintln(os.Stderr, "appeared after", time.Since(t0))
				prev = n
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}
