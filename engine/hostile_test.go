package engine

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// hostileSource answers each GET as its rule says for that key and attempt (1 = first); the
// zero answer is the object as stored in objects.
type hostileSource struct {
	objects map[string][]byte
	rule    func(key string, attempt int) answer

	mu    sync.Mutex
	gets  map[string]int
	start map[string][]time.Time
}

// answer is what a hostile GET returns.
type answer struct {
	cut     int           // > 0: only the first cut bytes, with a consistent Content-Length
	empty   bool          // an empty body, Content-Length 0
	claim   int64         // > 0: announce this Content-Length, whatever the body
	trickle time.Duration // pause before each byte
	hang    bool          // never answer
}

func newHostileSource(rule func(string, int) answer) *hostileSource {
	return &hostileSource{objects: map[string][]byte{}, rule: rule, gets: map[string]int{}, start: map[string][]time.Time{}}
}

func (h *hostileSource) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	h.mu.Lock()
	h.gets[key]++
	n := h.gets[key]
	h.start[key] = append(h.start[key], time.Now())
	body, ok := h.objects[key]
	h.mu.Unlock()
	if !ok {
		return nil, storage.ObjectInfo{}, errNotFound
	}
	var a answer
	if h.rule != nil {
		a = h.rule(key, n)
	}
	if a.hang {
		<-ctx.Done()
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Message: "context canceled", Err: ctx.Err()}
	}
	switch {
	case a.empty:
		body = nil
	case a.cut > 0:
		body = body[:a.cut]
	}
	size := int64(len(body))
	if a.claim > 0 {
		size = a.claim
	}
	info := storage.ObjectInfo{Size: size, ContentType: "image/jpeg", ETag: "0123456789abcdef0123456789abcdef-2"}
	var r io.Reader = bytes.NewReader(body)
	if a.trickle > 0 {
		r = &trickleReader{ctx: ctx, r: r, every: a.trickle}
	}
	return io.NopCloser(r), info, nil
}

// trickleReader hands out one byte per pause, until ctx ends (as a real body read does).
type trickleReader struct {
	ctx   context.Context
	r     io.Reader
	every time.Duration
}

func (t *trickleReader) Read(p []byte) (int, error) {
	select {
	case <-time.After(t.every):
	case <-t.ctx.Done():
		return 0, t.ctx.Err()
	}
	return t.r.Read(p[:min(len(p), 1)])
}

// hostileOptions are fastOptions with fewer retries and tight bounds on each attempt.
func hostileOptions() CopyOptions {
	o := fastOptions()
	o.Retries = 2
	o.MinRate, o.MinTime = 10<<10, 300*time.Millisecond
	return o
}

func original(id int64, key string, size int64) checkpoint.Object {
	o := obj(id, key)
	o.Size = size
	return o
}

// A source that answers an original with fewer (or more) bytes than the database records —
// a consistent Content-Length, an ETag that is no MD5, so nothing else could tell — is retried,
// and never done: a fresh GET that is whole is copied, one that stays short fails saying both
// sizes. Objects whose size the database does not know are copied as the source has them.
func TestDatabaseSizeDisagreementIsNeverDone(t *testing.T) {
	whole := bytes.Repeat([]byte("x"), 1000)
	src := newHostileSource(func(key string, attempt int) answer {
		switch {
		case key == "always-short":
			return answer{cut: 500}
		case key == "always-empty":
			return answer{empty: true}
		case key == "short-once" && attempt == 1:
			return answer{cut: 10}
		}
		return answer{}
	})
	for _, k := range []string{"always-short", "always-empty", "short-once", "unknown", "small", "longer"} {
		src.objects[k] = whole
	}
	src.objects["longer"] = append(bytes.Clone(whole), "and more"...)
	small := obj(5, "small")
	small.Style, small.Size = "small", 0
	objs := []checkpoint.Object{original(1, "always-short", 1000), original(2, "always-empty", 1000),
		original(3, "short-once", 1000), original(4, "unknown", 0), small, original(6, "longer", 1000)}
	db := newDB(t, objs...)
	dst := newFakeBucket()
	if _, err := Copy(context.Background(), db, src, dst, hostileOptions()); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		got := get(t, db, o)
		key := o.Candidates[0]
		switch key {
		case "always-short", "always-empty", "longer":
			want := map[string]string{"always-short": "holds 500 bytes", "always-empty": "holds 0 bytes", "longer": "holds 1008 bytes"}[key]
			if got.Status != checkpoint.Failed || got.Attempts != 3 || !strings.Contains(got.Error, want) ||
				!strings.Contains(got.Error, "the database records 1000") || !strings.Contains(got.Error, "file_file_size") {
				t.Errorf("%s: %s after %d attempts: %s", key, got.Status, got.Attempts, got.Error)
			}
			if _, ok := dst.objects[key]; ok {
				t.Errorf("%s reached the destination", key)
			}
		default:
			if got.Status != checkpoint.Done || !bytes.Equal(dst.objects[key].body, whole) {
				t.Errorf("%s: %s (%s), %d bytes at the destination", key, got.Status, got.Error, len(dst.objects[key].body))
			}
		}
	}
	if got := get(t, db, objs[2]); got.Attempts != 2 {
		t.Errorf("short-once took %d attempts, want 2", got.Attempts)
	}
}

// An attempt slower than the minimum rate (a byte now and then, which no idle timeout
// catches), one that never gets an answer, and one whose source announces a huge
// Content-Length to stretch its deadline are each cancelled and retried; what is fast on a
// later attempt is copied whole, what never is fails saying it was too slow.
func TestSlowAttemptsAreCancelledAndRetried(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 2000)
	src := newHostileSource(func(key string, attempt int) answer {
		switch {
		case key == "slow-once" && attempt == 1:
			return answer{trickle: 20 * time.Millisecond} // 50 B/s: 40 s for the whole body
		case key == "always-slow":
			return answer{trickle: 20 * time.Millisecond}
		case key == "hangs":
			return answer{hang: true}
		case key == "lies":
			return answer{claim: 1 << 40, trickle: 5 * time.Millisecond} // deadline of 3 years
		}
		return answer{}
	})
	for _, k := range []string{"slow-once", "always-slow", "hangs", "lies"} {
		src.objects[k] = body
	}
	objs := []checkpoint.Object{obj(1, "slow-once"), obj(2, "always-slow"), obj(3, "hangs"), obj(4, "lies")}
	db := newDB(t, objs...)
	dst := newFakeBucket()
	start := time.Now()
	sum, err := Copy(context.Background(), db, src, dst, hostileOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the attempts were not cut", d)
	}
	if got := get(t, db, objs[0]); got.Status != checkpoint.Done || got.Attempts != 2 || !bytes.Equal(dst.objects["slow-once"].body, body) {
		t.Errorf("slow-once: %+v", got)
	}
	for _, c := range []struct {
		o    checkpoint.Object
		want string
	}{
		{objs[1], "slower than the minimum of 10.0 KiB/s"},
		{objs[2], "the source had not answered after"},
		{objs[3], "slower than the minimum"},
	} {
		got := get(t, db, c.o)
		if got.Status != checkpoint.Failed || got.Attempts != 3 || !strings.Contains(got.Error, "gave up after 3 attempts: timed out") || !strings.Contains(got.Error, c.want) {
			t.Errorf("%s: %s after %d attempts: %s", c.o.Candidates[0], got.Status, got.Attempts, got.Error)
		}
		if _, ok := dst.objects[c.o.Candidates[0]]; ok {
			t.Errorf("%s reached the destination", c.o.Candidates[0])
		}
	}
	if sum.Retries != 1+2+2+2 {
		t.Errorf("retries %d, want 7", sum.Retries)
	}
	// Each attempt was cut near MinTime (300 ms), not after the idle timeout.
	for _, k := range []string{"always-slow", "hangs", "lies"} {
		starts := src.start[k]
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap > time.Second {
				t.Errorf("%s: attempt %d started %s after the one before", k, i+1, gap)
			}
		}
	}
}

// The bounds come from the options, else the defaults, and a bandwidth limit lowers the
// rate to half of each worker's share, so that the limit itself never times a copy out.
func TestTransferLimits(t *testing.T) {
	src := newFakeBucket()
	if r, d := transferLimits(CopyOptions{Concurrency: 16}, src); r != DefaultMinRate || d != DefaultMinTime {
		t.Errorf("defaults: %v %v", r, d)
	}
	if r, d := transferLimits(CopyOptions{Concurrency: 16, MinRate: 1000, MinTime: time.Second}, src); r != 1000 || d != time.Second {
		t.Errorf("options: %v %v", r, d)
	}
	if r, _ := transferLimits(CopyOptions{Concurrency: 16, MinRate: 64 << 10}, LimitBandwidth(src, 320<<10)); r != 10<<10 {
		t.Errorf("under --bwlimit 320K at 16 workers: rate %v, want 10 KiB/s", r)
	}
	if r, _ := transferLimits(CopyOptions{Concurrency: 2, MinRate: 2000}, LimitBandwidth(src, 1<<30)); r != 2000 {
		t.Errorf("under a generous --bwlimit: rate %v, want 2000", r)
	}
}
