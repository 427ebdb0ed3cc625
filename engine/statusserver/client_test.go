package statusserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
)

// The client `report` uses during a copy reads every failed and missing object, page
// after page by cursor, past the first page, and waits out a busy server (503, Retry-After).
func TestStatusClientPagesFailuresByCursor(t *testing.T) {
	db, err := checkpoint.Open(filepath.Join(t.TempDir(), "c.db"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 2*statusserver.MaxFailuresLimit + 500
	var objs []checkpoint.Object
	var ups []checkpoint.Update
	for i := 1; i <= n; i++ {
		o := checkpoint.Object{Kind: "preview_cards", RecordID: int64(i), Attachment: "image", Style: "original",
			Candidates: []string{fmt.Sprintf("preview_cards/images/%09d/original/c.jpg", i)}}
		objs = append(objs, o)
		st := checkpoint.Failed
		if i%2 == 0 {
			st = checkpoint.Missing
		}
		ups = append(ups, checkpoint.Update{ID: o.ID(), Status: st})
	}
	if _, _, err := db.Merge(objs); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ups); err != nil {
		t.Fatal(err)
	}
	srv := statusserver.New(statusserver.Options{Monitor: engine.NewMonitor(), DB: db})
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 { // the second page finds the server busy once
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()

	client := statusserver.NewClient(strings.TrimPrefix(ts.URL, "http://"), "")
	var got []int64
	start := time.Now()
	err = client.Failures(context.Background(), []string{"preview_cards"}, []checkpoint.Status{checkpoint.Failed, checkpoint.Missing},
		func(r engine.Row) error { got = append(got, r.RecordID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d objects, want %d", len(got), n)
	}
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("object %d is record %d", i, id)
		}
	}
	if c := calls.Load(); c != 4 || time.Since(start) < time.Second {
		t.Errorf("%d requests in %s, want 3 pages and one wait of Retry-After", c, time.Since(start))
	}
}
