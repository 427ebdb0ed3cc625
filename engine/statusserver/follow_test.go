package statusserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
)

// followState is a copy --follow after four passes: three quiet ones, nothing pending.
func followState(now time.Time) engine.FollowState {
	return engine.FollowState{
		Passes:       4,
		LastPassAt:   now.Add(-5 * time.Second).UTC().Truncate(time.Second),
		NextPassAt:   now.Add(25 * time.Second).UTC().Truncate(time.Second),
		LastRescanAt: now.Add(-3 * time.Minute).UTC().Truncate(time.Second),
		RecordsSeen:  1520,
		ObjectsAdded: 37,
		LastAdded:    0,
		QuietPasses:  3,
		ReadyToStop:  true,
		Pending:      2,
		LagSeconds:   42.5,
	}
}

// copyFollowing runs the fixture's copy as a pass of copy --follow does, so that it ends in
// PhaseFollowing.
func (f *fixture) copyFollowing(t *testing.T) {
	t.Helper()
	_, err := engine.Copy(context.Background(), f.db, f.src, f.dst, engine.CopyOptions{Concurrency: 2, Retries: 1,
		BackoffBase: time.Millisecond, FlushEvery: time.Millisecond, Monitor: f.mon, Following: true, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) metricFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	body := f.getOK(t, "/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return fams
}

var followMetrics = []string{statusserver.MetricFollowing, statusserver.MetricFollowLag, statusserver.MetricFollowLastPass,
	statusserver.MetricFollowPasses, statusserver.MetricFollowObjectsAdded, statusserver.MetricFollowRecordsSeen,
	statusserver.MetricFollowPending, statusserver.MetricFollowQuietPasses}

// Under copy --follow, /metrics has the follow metrics with the monitor's values; without it,
// none of them.
func TestFollowMetrics(t *testing.T) {
	f := newFixture(t, "")
	f.copyFollowing(t)
	for name := range f.metricFamilies(t) {
		if strings.HasPrefix(name, "s3sync_follow") {
			t.Errorf("%s before any follow state", name)
		}
	}

	st := followState(time.Now())
	f.mon.SetFollow(st)
	fams := f.metricFamilies(t)
	for _, c := range []struct {
		name string
		typ  dto.MetricType
		want float64
	}{
		{statusserver.MetricFollowing, dto.MetricType_GAUGE, 1},
		{statusserver.MetricFollowLag, dto.MetricType_GAUGE, 42.5},
		{statusserver.MetricFollowLastPass, dto.MetricType_GAUGE, float64(st.LastPassAt.Unix())},
		{statusserver.MetricFollowPasses, dto.MetricType_COUNTER, 4},
		{statusserver.MetricFollowObjectsAdded, dto.MetricType_COUNTER, 37},
		{statusserver.MetricFollowRecordsSeen, dto.MetricType_COUNTER, 1520},
		{statusserver.MetricFollowPending, dto.MetricType_GAUGE, 2},
		{statusserver.MetricFollowQuietPasses, dto.MetricType_GAUGE, 3},
	} {
		fam := fams[c.name]
		if fam == nil || fam.GetType() != c.typ || len(fam.GetMetric()) != 1 {
			t.Errorf("%s: missing, or not one %s: %v", c.name, c.typ, fam)
			continue
		}
		m := fam.GetMetric()[0]
		got := m.GetGauge().GetValue()
		if c.typ == dto.MetricType_COUNTER {
			got = m.GetCounter().GetValue()
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
		if fam.GetHelp() == "" {
			t.Errorf("%s has no help", c.name)
		}
	}
}

// A copy that does not follow has no follow metrics, and no follow field in /api/status.
func TestNoFollowWithoutFollow(t *testing.T) {
	f := newFixture(t, "")
	f.copy(t)
	fams := f.metricFamilies(t)
	for _, name := range followMetrics {
		if fams[name] != nil {
			t.Errorf("%s without --follow", name)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(f.getOK(t, "/api/status"), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["follow"]; ok {
		t.Errorf("/api/status has follow without --follow: %v", doc["follow"])
	}
}

// /api/status carries follow with the documented field names (README "Watching a sync"), and
// the phase is following between passes.
func TestAPIStatusFollow(t *testing.T) {
	f := newFixture(t, "")
	f.copyFollowing(t)
	want := followState(time.Now())
	f.mon.SetFollow(want)
	body := f.getOK(t, "/api/status")

	var st statusserver.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != engine.PhaseFollowing || st.Follow == nil || *st.Follow != want {
		t.Errorf("phase %q, follow %+v; want following, %+v", st.Phase, st.Follow, want)
	}
	var doc struct {
		Follow map[string]any `json:"follow"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"passes", "last_pass_at", "next_pass_at", "last_rescan_at", "records_seen",
		"objects_added", "last_added", "quiet_passes", "pending", "lag_seconds", "ready_to_stop"} {
		if _, ok := doc.Follow[key]; !ok {
			t.Errorf("follow lacks %q: %v", key, doc.Follow)
		}
	}
	if len(doc.Follow) != 11 {
		t.Errorf("follow has %d fields, the README documents 11: %v", len(doc.Follow), doc.Follow)
	}
	// After following stopped, s3sync_following says 0 and the rest stays.
	f.copy(t) // a copy that does not follow ends in PhaseDone
	fams := f.metricFamilies(t)
	if fam := fams[statusserver.MetricFollowing]; fam == nil || fam.GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("%s after following: %v", statusserver.MetricFollowing, fam)
	}
	if fams[statusserver.MetricFollowPasses] == nil {
		t.Errorf("%s went away after following", statusserver.MetricFollowPasses)
	}
}

// The page has the Following panel, and its script reads every field of follow (the browser
// test in cmd/s3sync renders it).
func TestPageHasFollowPanel(t *testing.T) {
	f := newFixture(t, "")
	page := string(f.getOK(t, "/"))
	for _, want := range []string{`id="follow"`, `<h2>Following</h2>`, `id="f-phase"`, `id="f-quiet"`, `id="f-last"`,
		`id="f-passes"`, `id="f-records"`, `id="f-added"`, `id="f-last-added"`, `id="f-pending"`, `id="f-lag"`,
		`id="f-rescan"`, `id="f-last-ago"`, `id="f-rescan-ago"`, `.badge.following`, "renderFollow(s)", "next pass in ", "ready to stop",
		"f.next_pass_at", "f.last_pass_at", "f.last_rescan_at", "f.passes", "f.records_seen", "f.objects_added",
		"f.last_added", "f.quiet_passes", "f.pending", "f.lag_seconds", "f.ready_to_stop"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
