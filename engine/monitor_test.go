package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
)

func counts(byKind map[string]int64) checkpoint.Counts {
	out := checkpoint.Counts{}
	for kind, n := range byKind {
		out[kind] = map[checkpoint.Status]checkpoint.Count{checkpoint.Pending: {Objects: n, Bytes: n * 10}, checkpoint.Done: {Objects: 1, Bytes: 7}}
	}
	return out
}

// A limit falls on the kinds in the order the copy takes them (by name), so per-kind totals
// are exact from the start.
func TestMonitorLimitFallsInKindOrder(t *testing.T) {
	m := NewMonitor()
	m.begin(counts(map[string]int64{"media_attachments": 50, "accounts": 30, "custom_emojis": 40}), nil, 60, time.Now())
	s := m.Snapshot()
	want := map[string]int64{"accounts": 30, "custom_emojis": 30, "media_attachments": 0}
	for _, k := range s.Kinds {
		if k.Run.Total.Objects != want[k.Kind] {
			t.Errorf("%s: run total %d, want %d", k.Kind, k.Run.Total.Objects, want[k.Kind])
		}
		if k.Checkpoint["done"].Objects != 1 || k.Checkpoint["failed"] != (Tally{}) {
			t.Errorf("%s: checkpoint %+v", k.Kind, k.Checkpoint)
		}
	}
	if s.Run.Total.Objects != 60 || s.Run.Total.Bytes != 600 || s.Phase != PhaseCopying || s.ETASeconds != -1 {
		t.Errorf("run %+v phase %s eta %v", s.Run.Total, s.Phase, s.ETASeconds)
	}

	only := NewMonitor()
	only.begin(counts(map[string]int64{"media_attachments": 50, "accounts": 30}), []string{"accounts"}, 0, time.Now())
	if s := only.Snapshot(); len(s.Kinds) != 1 || s.Run.Total.Objects != 30 || s.Checkpoint["pending"].Objects != 30 {
		t.Errorf("--only accounts: %+v", s)
	}
}

// Results move counts from pending to their status; failures are kept newest first, at most
// recentFailures of them.
func TestMonitorCommitted(t *testing.T) {
	m := NewMonitor()
	t0 := time.Now()
	m.begin(counts(map[string]int64{"accounts": 100}), nil, 0, t0)
	var batch []result
	for i := range 60 {
		r := result{Update: checkpoint.Update{ID: fmt.Sprintf("accounts/%020d/avatar/original", i), Status: checkpoint.Done, Bytes: 12}, kind: "accounts", size: 10, key: fmt.Sprintf("k%d", i)}
		if i%2 == 1 {
			r.Status, r.Bytes, r.Error, r.Attempts = checkpoint.Missing, 0, "not found", 1
		}
		batch = append(batch, r)
	}
	m.committed(batch, t0.Add(time.Second))
	s := m.Snapshot()
	r := s.Run
	if r.Done != (Tally{30, 360}) || r.Missing != (Tally{30, 300}) || r.Processed() != 60 || r.Left() != 40 {
		t.Errorf("run %+v", r)
	}
	k := s.Kinds[0].Checkpoint
	if k["pending"] != (Tally{40, 400}) || k["done"] != (Tally{31, 367}) || k["missing"] != (Tally{30, 300}) {
		t.Errorf("checkpoint %+v", k)
	}
	if len(s.RecentFailures) != 30 || s.RecentFailures[0].Key != "k59" || s.RecentFailures[0].Status != "missing" {
		t.Errorf("failures: %d, first %+v", len(s.RecentFailures), s.RecentFailures[0])
	}
	for i := range recentFailures + 10 {
		m.committed([]result{{Update: checkpoint.Update{ID: "x", Status: checkpoint.Failed, Error: "boom"}, kind: "accounts", key: fmt.Sprintf("f%d", i)}}, t0)
	}
	if s := m.Snapshot(); len(s.RecentFailures) != recentFailures || s.RecentFailures[0].Key != fmt.Sprintf("f%d", recentFailures+9) {
		t.Errorf("failures kept: %d, newest %+v", len(s.RecentFailures), s.RecentFailures[0])
	}
}

// The history keeps at most historyLen samples whatever the run's length, and rates come
// from consecutive samples.
func TestMonitorHistoryStaysBounded(t *testing.T) {
	m := NewMonitor()
	t0 := time.Now().Add(-48 * time.Hour)
	m.begin(counts(map[string]int64{"accounts": 1 << 40}), nil, 0, t0)
	now := t0
	for i := range 20000 {
		now = t0.Add(time.Duration(i+1) * time.Second)
		m.committed([]result{{Update: checkpoint.Update{ID: "a", Status: checkpoint.Done, Bytes: 1000}, kind: "accounts"}, {Update: checkpoint.Update{ID: "b", Status: checkpoint.Done, Bytes: 1000}, kind: "accounts"}}, now)
		m.sample(now)
	}
	s := m.Snapshot()
	if len(s.History) >= historyLen || len(s.History) < historyLen/2 {
		t.Errorf("history has %d samples", len(s.History))
	}
	if !s.History[0].Time.Equal(t0) || s.History[len(s.History)-1].Time.Before(now.Add(-m.interval)) {
		t.Errorf("history spans %s .. %s, run %s .. %s", s.History[0].Time, s.History[len(s.History)-1].Time, t0, now)
	}
	for _, h := range s.History[1:] {
		if h.ObjectsPerSec < 1.99 || h.ObjectsPerSec > 2.01 || h.BytesPerSec < 1990 || h.BytesPerSec > 2010 {
			t.Fatalf("sample %+v: want 2 obj/s, 2000 B/s", h)
		}
	}
	if len(m.recent) > int(rateWindow/time.Second)+2 {
		t.Errorf("rate window holds %d samples", len(m.recent))
	}
}

// The ETA follows the recent rate; a finished run has none left.
func TestMonitorRateAndETA(t *testing.T) {
	m := NewMonitor()
	t0 := time.Now().Add(-10 * time.Second)
	m.begin(counts(map[string]int64{"accounts": 100}), nil, 0, t0)
	for i := range 10 {
		at := t0.Add(time.Duration(i+1) * time.Second)
		m.committed([]result{{Update: checkpoint.Update{Status: checkpoint.Done, Bytes: 5}, kind: "accounts", size: 10}}, at)
		m.sample(at)
	}
	s := m.Snapshot()
	if s.ObjectsPerSec < 0.8 || s.ObjectsPerSec > 1.1 || s.ETASeconds < 80 || s.ETASeconds > 115 {
		t.Errorf("rate %.2f obj/s, ETA %.0f s; want about 1 obj/s and 90 s", s.ObjectsPerSec, s.ETASeconds)
	}
	m.setPhase(PhaseInterrupted, "")
	if s := m.Snapshot(); s.Running() || s.ETASeconds != 0 {
		t.Errorf("after the end: %+v", s)
	}
}
