package engine

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/storage"
)

// AIMD: a throttled answer halves the window once per window of requests, successes widen it
// by about one per window, never above the maximum; Acquire admits no more than the window.
func TestThrottleAIMD(t *testing.T) {
	th := NewThrottle(16, zerolog.Nop())
	th.ObserveRequest("GetObject", storage.OutcomeThrottled, 0)
	if th.Limit() != 8 {
		t.Fatalf("after one SlowDown: window %d, want 8", th.Limit())
	}
	// Answers to the 15 requests already under way do not cut again.
	for range 15 {
		th.ObserveRequest("GetObject", storage.OutcomeThrottled, 0)
	}
	if th.Limit() != 8 {
		t.Fatalf("within the same window: %d, want 8", th.Limit())
	}
	th.ObserveRequest("GetObject", storage.OutcomeThrottled, 0)
	if th.Limit() != 4 {
		t.Fatalf("next window: %d, want 4", th.Limit())
	}
	for range 100 {
		th.ObserveRequest("PutObject", storage.OutcomeThrottled, 0)
	}
	if lowest, cuts := th.Lowest(); th.Limit() != 1 || lowest != 1 || cuts < 4 {
		t.Fatalf("storm: window %d, lowest %d, cuts %d; want 1, 1, >= 4", th.Limit(), lowest, cuts)
	}
	// Additive increase: 1 → 2 needs one success, 2 → 3 two, ...
	th.ObserveRequest("GetObject", storage.OutcomeOK, 0)
	if th.Limit() != 2 {
		t.Fatalf("one success: %d, want 2", th.Limit())
	}
	for range 1000 {
		th.ObserveRequest("GetObject", storage.OutcomeOK, 0)
	}
	if th.Limit() != 16 {
		t.Fatalf("recovered: %d, want 16 (the maximum)", th.Limit())
	}
	th.ObserveRequest("GetObject", storage.OutcomeNotFound, 0) // neither
	if th.Limit() != 16 {
		t.Fatal("not found changed the window")
	}
}

func TestThrottleAcquire(t *testing.T) {
	th := NewThrottle(4, zerolog.Nop())
	th.ObserveRequest("GetObject", storage.OutcomeThrottled, 0) // window 2
	ctx := context.Background()
	first := th.Acquire(ctx)
	second := th.Acquire(ctx)
	if !first || !second {
		t.Fatal("window 2 refused two")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if th.Acquire(cancelled) {
		t.Fatal("a third object got in at window 2")
	}
	got := make(chan bool)
	go func() { got <- th.Acquire(ctx) }()
	th.Release()
	if !<-got {
		t.Fatal("a released slot was not handed on")
	}
	var nilThrottle *Throttle
	if !nilThrottle.Acquire(ctx) || nilThrottle.Acquire(cancelled) {
		t.Fatal("nil throttle")
	}
	nilThrottle.Release()
	nilThrottle.ObserveRequest("x", storage.OutcomeThrottled, 0)
}

type bytesSource []byte

func (b bytesSource) Get(context.Context, string) (io.ReadCloser, storage.ObjectInfo, error) {
	return io.NopCloser(bytes.NewReader(b)), storage.ObjectInfo{Size: int64(len(b))}, nil
}

// The bandwidth limit holds over the measured interval: bytes read stay within
// burst + rate × elapsed.
func TestLimitBandwidth(t *testing.T) {
	const rate = 512 << 10
	src := LimitBandwidth(bytesSource(make([]byte, 384<<10)), rate)
	start := time.Now()
	body, _, err := src.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, body)
	elapsed := time.Since(start).Seconds()
	if err != nil || n != 384<<10 {
		t.Fatalf("read %d, %v", n, err)
	}
	burst := float64(src.(limitedSource).lim.Burst())
	if allowed := burst + rate*elapsed*1.1; float64(n) > allowed {
		t.Errorf("%d bytes in %.2fs: more than %.0f a limit of %d B/s allows", n, elapsed, allowed, rate)
	}
	if LimitBandwidth(bytesSource(nil), 0) == nil {
		t.Error("no limit should return the source")
	}
}

func TestShardParseAndSpread(t *testing.T) {
	for _, bad := range []string{"4/4", "1", "a/b", "-1/2", "0/0", "1/"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	s, err := ParseShard("2/3")
	if err != nil || s.I != 2 || s.N != 3 || s.String() != "2/3" || !s.Sharded() {
		t.Fatalf("ParseShard(2/3) = %+v, %v", s, err)
	}
	// Every ID in exactly one shard; the shards roughly even.
	per := make([]int, 4)
	for i := range 4000 {
		id := "media_attachments/" + string(rune('a'+i%26)) + "/" + time.Duration(i).String()
		owners := 0
		for j := range 4 {
			if (Shard{I: j, N: 4}).Owns(id) {
				owners++
				per[j]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s owned by %d shards", id, owners)
		}
	}
	for j, n := range per {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d holds %d of 4000", j, n)
		}
	}
	if !(Shard{}).Owns("x") {
		t.Error("the zero shard owns everything")
	}
}
