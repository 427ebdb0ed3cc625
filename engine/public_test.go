package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// busyCDN answers the first anonymous GET and the first HEAD of every key as a busy provider
// does (a 503 answer, a SlowDown error), then as a public bucket holding 10 image bytes.
type busyCDN struct {
	mu          sync.Mutex
	gets, heads map[string]int
}

func (b *busyCDN) PublicGet(_ context.Context, key string) (storage.PublicResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets[key]++
	if b.gets[key] == 1 {
		return storage.PublicResponse{Status: http.StatusServiceUnavailable, ContentType: "text/html"}, nil
	}
	return storage.PublicResponse{Status: http.StatusOK, ContentType: "image/jpeg", Bytes: 10}, nil
}

func (b *busyCDN) Head(_ context.Context, key string) (storage.ObjectInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heads[key]++
	if b.heads[key] == 1 {
		return storage.ObjectInfo{}, &storage.Error{Op: "head", Key: key, Code: "SlowDown", Status: http.StatusServiceUnavailable}
	}
	return storage.ObjectInfo{Size: 10, ContentType: "image/jpeg"}, nil
}

func (b *busyCDN) PublicURL(key string) string { return "https://media.example/" + key }

// verify --public retries an anonymous GET answered 503 and an authenticated HEAD throttled
// with SlowDown: a busy provider is no problem of the object.
func TestVerifyPublicRetriesBusyAnswers(t *testing.T) {
	useFastRetries(t)
	var objs []checkpoint.Object
	var done []checkpoint.Update
	for i := int64(1); i <= 5; i++ {
		o := obj(i, fmt.Sprintf("k%d", i))
		objs = append(objs, o)
		done = append(done, checkpoint.Update{ID: o.ID(), Status: checkpoint.Done, Bytes: 10, Attempts: 1})
	}
	db := newDB(t, objs...)
	if err := db.Apply(done); err != nil {
		t.Fatal(err)
	}
	cdn := &busyCDN{gets: map[string]int{}, heads: map[string]int{}}
	var problems []VerifyProblem
	sum, err := VerifyPublic(context.Background(), db, cdn, VerifyPublicOptions{OnProblem: func(p VerifyProblem) { problems = append(problems, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checked != 5 || sum.OK != 5 || sum.Problems != 0 {
		t.Errorf("verify --public: %+v, problems %v; want 5 right", sum, problems)
	}
	for key, n := range cdn.gets {
		if n != 2 || cdn.heads[key] != 2 {
			t.Errorf("%s: %d GETs and %d HEADs, want 2 of each", key, n, cdn.heads[key])
		}
	}
}
