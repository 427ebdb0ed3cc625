package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
)

// followingStatus is the /api/status document of a copy --follow between two passes, as of
// now: four passes, three of them quiet, nothing pending.
func followingStatus(now time.Time) statusserver.Status {
	now = now.UTC().Truncate(time.Second)
	cp := map[string]engine.Tally{}
	for _, st := range checkpoint.Statuses {
		cp[string(st)] = engine.Tally{}
	}
	cp["done"] = engine.Tally{Objects: 1200, Bytes: 3 << 30}
	return statusserver.Status{Version: statusserver.APIVersion, Command: "copy", PID: 4242, Config: []statusserver.ConfigItem{},
		Snapshot: engine.Snapshot{
			Phase: engine.PhaseFollowing, StartedAt: now.Add(-time.Hour), UpdatedAt: now, ElapsedSeconds: 3600,
			Run: engine.Progress{Total: engine.Tally{Objects: 3, Bytes: 300}, Done: engine.Tally{Objects: 3, Bytes: 300}},
			Kinds: []engine.KindSnapshot{{Kind: "media_attachments", Checkpoint: cp,
				Run: engine.Progress{Total: engine.Tally{Objects: 3, Bytes: 300}, Done: engine.Tally{Objects: 3, Bytes: 300}}}},
			Checkpoint: cp, History: []engine.Sample{}, RecentFailures: []engine.Failure{},
			Follow: &engine.FollowState{
				Passes: 4, LastPassAt: now.Add(-5 * time.Second), NextPassAt: now.Add(25 * time.Second),
				LastRescanAt: now.Add(-3 * time.Minute), RecordsSeen: 1520, ObjectsAdded: 37, LastAdded: 0,
				QuietPasses: 3, Pending: 0, LagSeconds: 0, ReadyToStop: true,
			},
		}}
}

// `s3sync status` of a copy that follows has a following block with what the passes did, and
// says when it may be stopped; one that does not follow has none.
func TestStatusTextFollowing(t *testing.T) {
	st := followingStatus(time.Now())
	var out bytes.Buffer
	if err := writeLiveStatus(&out, st, 5); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("\n%s", text)
	local := func(d time.Duration) string { return st.UpdatedAt.Add(d).Local().Format(time.TimeOnly) }
	want := "\nfollowing: next pass in 25s\n" +
		"  last pass      " + local(-5*time.Second) + " (5s ago)\n" +
		"  passes         4\n" +
		"  records seen   1520\n" +
		"  objects added  37 (0 in the last pass)\n" +
		"  pending        0, lag none\n" +
		"  last rescan    " + local(-3*time.Minute) + " (3m0s ago)\n" +
		"  quiet          nothing new for 3 passes: ready to stop\n\n"
	if !strings.Contains(text, want) {
		t.Errorf("the status lacks\n%s\nin\n%s", want, text)
	}
	if !strings.HasPrefix(text, "s3sync copy (pid 4242): following, 1h0m0s elapsed") {
		t.Errorf("headline: %s", text)
	}
	if !regexp.MustCompile(`(?m)^\s+KIND\s+PROGRESS`).MatchString(text) {
		t.Errorf("no kinds table after the following block:\n%s", text)
	}

	// Pending objects: the lag, and not ready to stop; during a pass, the pass.
	f := st.Follow
	f.Pending, f.LagSeconds, f.QuietPasses, f.LastAdded = 7, 95, 0, 7
	st.Phase = engine.PhaseCopying
	out.Reset()
	if err := writeLiveStatus(&out, st, 5); err != nil {
		t.Fatal(err)
	}
	text = out.String()
	for _, want := range []string{"following: pass 5 is copying\n", "  pending        7, lag 1m35s\n", "37 (7 in the last pass)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the status lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "quiet") || strings.Contains(text, "ready to stop") {
		t.Errorf("the status says quiet with objects pending:\n%s", text)
	}
	st.Phase = engine.PhaseInterrupted
	out.Reset()
	_ = writeLiveStatus(&out, st, 5)
	if !strings.Contains(out.String(), "following: stopped after 4 passes\n") {
		t.Errorf("after following:\n%s", out.String())
	}

	st.Follow = nil
	out.Reset()
	_ = writeLiveStatus(&out, st, 5)
	if strings.Contains(out.String(), "following") && !strings.HasPrefix(out.String(), "s3sync copy (pid 4242): interrupted") {
		t.Errorf("a copy that does not follow:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\nfollowing:") {
		t.Errorf("a copy that does not follow has a following block:\n%s", out.String())
	}
}

// The progress bars' follow line: when the next pass comes, the lag, pending and added objects,
// and whether following may stop; during a pass, the pass.
func TestStatusFollowProgressLine(t *testing.T) {
	st := followingStatus(time.Now())
	st.Follow.NextPassAt = time.Now().Add(25*time.Second + 400*time.Millisecond)
	got := followLine(st.Snapshot)
	if want := "following: pass 4, next in 25s, lag 0s, pending 0, added 37 (0 in the last pass), nothing new for 3 passes: ready to stop"; got != want {
		t.Errorf("between passes:\n%s\nwant\n%s", got, want)
	}
	// Quiet, but no rescan among the quiet passes yet.
	st.Follow.ReadyToStop = false
	if got := followLine(st.Snapshot); !strings.HasSuffix(got, "nothing new for 3 passes (ready to stop after the next rescan)") {
		t.Errorf("quiet without a rescan:\n%s", got)
	}
	st.Phase = engine.PhaseCopying
	st.Follow.Pending, st.Follow.LagSeconds, st.Follow.QuietPasses, st.Follow.LastAdded = 7, 95, 0, 7
	if got, want := followLine(st.Snapshot), "following: pass 5 copying, lag 1m35s, pending 7, added 37 (7 in the last pass)"; got != want {
		t.Errorf("during a pass:\n%s\nwant\n%s", got, want)
	}
	st.Phase = engine.PhaseDone
	if got := followLine(st.Snapshot); !strings.HasPrefix(got, "followed: 4 passes, ") {
		t.Errorf("after following: %s", got)
	}
	st.Follow = nil
	if got := followLine(st.Snapshot); got != "" {
		t.Errorf("without following: %q", got)
	}
	// Between passes the bars of a follow say the pass is done, not the copy.
	st.Phase = engine.PhaseFollowing
	if got := barETA("total", st.Run, st.Snapshot); got != "pass done" {
		t.Errorf("total bar between passes: %q", got)
	}
	st.Phase = engine.PhaseDone
	if got := barETA("total", st.Run, st.Snapshot); got != "done" {
		t.Errorf("total bar at the end: %q", got)
	}
}

// The status page's Following panel, in a real browser, from a status server whose
// /api/status is a copy --follow between passes (then one that no longer follows): phase and
// countdown, the passes' facts, "ready to stop"; no panel without follow.
func TestFollowPanelInBrowser(t *testing.T) {
	srv := statusserver.New(statusserver.Options{Monitor: engine.NewMonitor(), Command: "copy", PID: 4242})
	var doc atomic.Pointer[statusserver.Status]
	st := followingStatus(time.Now())
	doc.Store(&st)
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler()) // the page itself, as the server serves it
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		s := *doc.Load()
		if s.Follow != nil { // a live document: the next pass stays 25 s away
			f := *s.Follow
			now := time.Now().UTC()
			f.LastPassAt, f.NextPassAt, f.LastRescanAt = now.Add(-5*time.Second), now.Add(25*time.Second), now.Add(-3*time.Minute)
			s.UpdatedAt, s.Follow = now, &f
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx, cancel := newBrowser(t, 1280, 1000)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(chromedp.ID("follow"))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	text := func(id string) string {
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("#%s: %v", id, err)
		}
		return v
	}
	if got := text("f-phase"); !regexp.MustCompile(`^following — next pass in 2\ds$`).MatchString(got) {
		t.Errorf("phase %q", got)
	}
	for id, want := range map[string]string{"phase": "following", "f-passes": "4", "f-records": "1,520", "f-added": "37",
		"f-last-added": "0", "f-pending": "0", "f-lag": "none", "f-quiet": "nothing new for 3 passes — ready to stop", "eta": "between passes"} {
		if got := text(id); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	for id, ago := range map[string]string{"f-last": "5s", "f-rescan": "3m 0s"} {
		if got := text(id); !regexp.MustCompile(`^\d\d:\d\d:\d\d$`).MatchString(got) {
			t.Errorf("#%s = %q, want a time", id, got)
		}
		got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID(id+"-ago"))) // as written, not as styled
		if want := " · " + ago + " ago"; err != nil || got != want {
			t.Errorf("#%s-ago = %q, want %q", id, got, want)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "status-page-follow.png", png)

	// A copy that no longer follows: the panel goes (the page polls every 2 s).
	plain := followingStatus(time.Now())
	plain.Phase, plain.Follow = engine.PhaseCopying, nil
	doc.Store(&plain)
	waitFor(t, "the Following panel to go", 20*time.Second, func() bool {
		hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("follow")).display === "none"`))
		return err == nil && hidden
	})
}

// On a terminal, copy --follow keeps its bars (each pass's work) and draws a follow line below
// them: between passes when the next one comes and what the passes found; at the end how many
// passes there were.
func TestProgressBarsFollowOnTTY(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 20)
	s.must(exitOK, "plan")
	out, err := s.runOnTTY("copy", "--follow", "--interval", "1s", "--until", "4s", "--concurrency", "2")
	if err != nil {
		t.Fatalf("copy --follow: %v\n%s", err, out)
	}
	frames := cursorUp.Split(out, -1)
	last := frames[len(frames)-1]
	between := regexp.MustCompile(`following: pass \d+, next in \ds, lag 0s, pending 0, added 0 \(0 in the last pass\)`)
	for i, f := range frames {
		if between.MatchString(f) {
			t.Logf("a frame between passes:\n%s\nthe last frame:\n%s", f, last)
			break
		}
		if i == len(frames)-1 {
			t.Errorf("no frame shows the follow line between passes:\n%s", out)
		}
	}
	for _, re := range []string{
		`preview_cards +\d+/\d+ .*\[=+\]`,
		`total +\d+/\d+ .*\[=+\]`,
		`followed: \d+ passes, lag 0s, pending 0, added 0 \(0 in the last pass\)`,
	} {
		if !regexp.MustCompile(re).MatchString(last) {
			t.Errorf("the last frame lacks %s:\n%s", re, last)
		}
	}
}
