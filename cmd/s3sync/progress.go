package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/human"
)

// barRefresh is how often bars are redrawn and the copy bars read the monitor.
const barRefresh = 200 * time.Millisecond

// barsWanted reports whether to draw live progress bars: stderr is a terminal that can draw
// them (it has a size: a terminal of 0 rows shows no bar) and --no-progress was not given.
// Otherwise progress goes to the log as lines.
func (g *globals) barsWanted() bool {
	if g.noProgress || !isTerminal(g.stderr) || g.getenv("TERM") == "dumb" {
		return false
	}
	ws, err := unix.IoctlGetWinsize(int(g.stderr.(*os.File).Fd()), unix.TIOCGWINSZ)
	return err == nil && ws.Row > 0 && ws.Col > 0
}

// newBarContainer starts an mpb container on stderr and routes log lines through it, so they
// print above the bars; restore undoes that and must run before the container's Wait.
func (g *globals) newBarContainer() (p *mpb.Progress, restore func()) {
	p = mpb.New(mpb.WithOutput(g.stderr), mpb.WithRefreshRate(barRefresh), mpb.WithWidth(100))
	prev := g.logSink.set(p)
	return p, func() { g.logSink.set(prev) }
}

// copyBars draws one bar per kind and a total bar from the copy's monitor, and under copy
// --follow a line with the state of following below them.
//
// Under --follow every pass's copy is a run of the monitor: the bars show the pass's work
// (their totals change from pass to pass; a kind that had nothing pending at first gets its
// bar when a pass finds objects of it), so the bars never complete on their own: stop
// completes them. Between passes the follow line says when the next pass comes, what the
// passes found and the lag.
type copyBars struct {
	g       *globals
	mon     *engine.Monitor
	p       *mpb.Progress
	restore func()

	mu     sync.Mutex
	snap   engine.Snapshot
	total  *mpb.Bar
	kinds  map[string]*mpb.Bar
	follow *mpb.Bar // the follow line, once the monitor has a follow state
	width  int      // of the name column
	quit   chan struct{}
	exited chan struct{}
}

// startCopyBars starts the bars when g.barsWanted(); it returns nil otherwise. Its methods
// accept a nil receiver.
func (g *globals) startCopyBars(mon *engine.Monitor) *copyBars {
	if !g.barsWanted() {
		return nil
	}
	b := &copyBars{g: g, mon: mon, kinds: map[string]*mpb.Bar{}, quit: make(chan struct{}), exited: make(chan struct{})}
	b.p, b.restore = g.newBarContainer()
	go b.run()
	return b
}

func (b *copyBars) run() {
	defer close(b.exited)
	t := time.NewTicker(barRefresh)
	defer t.Stop()
	for {
		b.update()
		select {
		case <-t.C:
		case <-b.quit:
			b.update()
			return
		}
	}
}

// update reads the monitor, creates the bars once the run's work is known, and moves them.
func (b *copyBars) update() {
	snap := b.mon.Snapshot()
	b.mu.Lock()
	b.snap = snap
	b.mu.Unlock()
	if snap.Phase == engine.PhaseStarting {
		return
	}
	// Bars are ordered by priority: the kinds in the snapshot's order (which never changes
	// within a run), then the total, then the follow line.
	if b.total == nil {
		b.width = len("total")
		for _, k := range snap.Kinds {
			b.width = max(b.width, len(k.Kind))
		}
	}
	for i, k := range snap.Kinds {
		if b.kinds[k.Kind] == nil && k.Run.Total.Objects > 0 {
			b.kinds[k.Kind] = b.addBar(k.Kind, i)
		}
	}
	if b.total == nil {
		b.total = b.addBar("total", len(snap.Kinds))
	}
	if b.follow == nil && snap.Follow != nil {
		b.follow = b.p.New(0, mpb.NopStyle(), mpb.BarPriority(len(snap.Kinds)+1),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
				b.mu.Lock()
				defer b.mu.Unlock()
				return followLine(b.snap)
			})))
	}
	following := snap.Follow != nil
	for _, k := range snap.Kinds {
		if bar := b.kinds[k.Kind]; bar != nil {
			setBar(bar, k.Run, following)
		}
	}
	setBar(b.total, snap.Run, following)
}

// setBar moves a bar to p. Under --follow a pass that had nothing of the bar's to copy shows it
// full (nothing left), not empty; a plain copy's bar with nothing to copy stays as it was.
func setBar(bar *mpb.Bar, p engine.Progress, following bool) {
	total, cur := max(p.Total.Objects, 1), p.Processed()
	if following && p.Total.Objects == 0 {
		cur = total
	}
	bar.SetTotal(total, false)
	bar.SetCurrent(cur)
}

// addBar adds the bar of one kind (or "total") showing objects, bytes, rate or ETA, and the
// failed and missing counts, all read from the latest snapshot. Its total is set by update;
// it completes only in stop (a bar created with a total would complete when its objects are
// through, and a follow pass could not move it again).
func (b *copyBars) addBar(name string, priority int) *mpb.Bar {
	width := b.width
	progress := func() (engine.Progress, engine.Snapshot) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if name == "total" {
			return b.snap.Run, b.snap
		}
		for _, k := range b.snap.Kinds {
			if k.Kind == name {
				return k.Run, b.snap
			}
		}
		return engine.Progress{}, b.snap
	}
	return b.p.New(0, mpb.BarStyle(), mpb.BarPriority(priority),
		mpb.PrependDecorators(
			decor.Name(name, decor.WC{W: width + 1, C: decor.DindentRight}),
			decor.Any(func(decor.Statistics) string {
				p, _ := progress()
				return fmt.Sprintf("%d/%d", p.Processed(), p.Total.Objects)
			}, decor.WCSyncWidth),
			decor.Any(func(decor.Statistics) string {
				p, _ := progress()
				return "  " + human.Bytes(p.Done.Bytes)
			}, decor.WCSyncWidthR),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				p, s := progress()
				return barRate(name, p, s)
			}, decor.WCSyncWidthR),
			decor.Any(func(decor.Statistics) string {
				p, s := progress()
				return " " + barETA(name, p, s)
			}, decor.WCSyncWidthR),
			decor.Any(func(decor.Statistics) string {
				p, _ := progress()
				return fmt.Sprintf(" failed %d missing %d", p.Failed.Objects, p.Missing.Objects)
			}, decor.WCSyncWidthR),
		),
	)
}

// barRate is the total bar's rate; kinds show their percentage instead (the copy takes the
// kinds one after the other, so only one of them moves at a time).
func barRate(name string, p engine.Progress, s engine.Snapshot) string {
	if name == "total" {
		return fmt.Sprintf("%.1f obj/s %s/s", s.ObjectsPerSec, human.Bytes(int64(s.BytesPerSec)))
	}
	pct := 100.0
	if p.Total.Objects > 0 {
		pct = 100 * float64(p.Processed()) / float64(p.Total.Objects)
	}
	return fmt.Sprintf("%.0f%%", pct)
}

// barETA is when the kind's (or the run's) objects will all be processed. The copy takes
// kinds in name order, so a kind finishes when it and the kinds before it are through.
func barETA(name string, p engine.Progress, s engine.Snapshot) string {
	if p.Left() == 0 {
		if s.Phase == engine.PhaseFollowing {
			return "pass done"
		}
		return "done"
	}
	left := p.Left()
	if name != "total" {
		left = 0
		for _, k := range s.Kinds {
			left += k.Run.Left()
			if k.Kind == name {
				break
			}
		}
	}
	if s.ObjectsPerSec <= 0 {
		return "ETA ?"
	}
	return "ETA " + human.ETA(float64(left)/s.ObjectsPerSec)
}

// stop draws the final state and removes the bars' hold on the log.
func (b *copyBars) stop() {
	if b == nil {
		return
	}
	close(b.quit)
	<-b.exited
	b.restore()
	for _, bar := range b.allBars() {
		if bar.Current() >= b.totalOf(bar) {
			bar.SetTotal(-1, true)
		} else {
			bar.Abort(false) // interrupted or failed: keep the bar as it stands
		}
	}
	if b.follow != nil {
		b.follow.SetTotal(-1, true) // its last line says how following ended
	}
	b.p.Wait()
}

// followLine is the line below the bars under copy --follow: between passes "following: pass
// N, next in 25s, lag 0s, pending 0, added 12 (3 in the last pass)", during a pass what it
// does, after the end how many passes there were.
func followLine(s engine.Snapshot) string {
	f := s.Follow
	if f == nil {
		return ""
	}
	lag := "0s"
	if f.LagSeconds > 0 {
		lag = human.ETA(f.LagSeconds)
	}
	facts := fmt.Sprintf("lag %s, pending %d, added %d (%d in the last pass)", lag, f.Pending, f.ObjectsAdded, f.LastAdded)
	if f.QuietPasses > 0 {
		facts += ", nothing new for " + passCount(f.QuietPasses)
		if f.ReadyToStop {
			facts += ": ready to stop"
		} else if f.QuietPasses >= engine.QuietToStop {
			facts += " (ready to stop after the next rescan)"
		}
	}
	switch s.Phase {
	case engine.PhaseFollowing:
		next := time.Until(f.NextPassAt)
		switch {
		case f.NextPassAt.IsZero():
			return fmt.Sprintf("following: pass %d, no further pass, %s", f.Passes, facts)
		case next > 0:
			return fmt.Sprintf("following: pass %d, next in %s, %s", f.Passes, human.ETA(next.Seconds()), facts)
		default:
			return fmt.Sprintf("following: pass %d reading the database, %s", f.Passes+1, facts)
		}
	case engine.PhaseStarting, engine.PhaseCopying:
		return fmt.Sprintf("following: pass %d copying, %s", f.Passes+1, facts)
	case engine.PhaseStopping:
		return fmt.Sprintf("following: stopping after pass %d, %s", f.Passes, facts)
	}
	return fmt.Sprintf("followed: %s, %s", passCount(f.Passes), facts)
}

func (b *copyBars) allBars() []*mpb.Bar {
	var out []*mpb.Bar
	for _, k := range b.snap.Kinds {
		if bar := b.kinds[k.Kind]; bar != nil {
			out = append(out, bar)
		}
	}
	if b.total != nil {
		out = append(out, b.total)
	}
	return out
}

func (b *copyBars) totalOf(bar *mpb.Bar) int64 {
	if bar == b.total {
		return b.snap.Run.Total.Objects
	}
	for _, k := range b.snap.Kinds {
		if b.kinds[k.Kind] == bar {
			return k.Run.Total.Objects
		}
	}
	return 0
}

// planBars draws one bar per kind while plan reads it: records read of the table's count,
// and the objects derived from them.
type planBars struct {
	g       *globals
	p       *mpb.Progress
	restore func()

	mu  sync.Mutex
	cur *planBar // the kind being read
}

// planBar is one kind's bar and what its decorators show.
type planBar struct {
	bar     *mpb.Bar
	records int64 // the table's count, -1 when unknown

	mu           sync.Mutex
	objects, new int64
	done         bool
}

func (pb *planBar) stats() (objects, added int64, done bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.objects, pb.new, pb.done
}

// startPlanBars starts the plan's bars when g.barsWanted(); it returns nil otherwise. Its
// methods accept a nil receiver, so they can be the plan's hooks either way.
func (g *globals) startPlanBars() *planBars {
	if !g.barsWanted() {
		return nil
	}
	b := &planBars{g: g}
	b.p, b.restore = g.newBarContainer()
	return b
}

// start is engine.PlanOptions.OnStart: a new bar for kind, with records as its total (-1
// when the count is unknown).
func (b *planBars) start(kind catalog.Kind, records int64) {
	if b == nil {
		return
	}
	b.finishKind()
	width := 0
	for _, k := range catalog.AllKinds {
		width = max(width, len(k))
	}
	pb := &planBar{records: records}
	// Not under a lock: AddBar waits for the container, whose rendering calls the decorators.
	pb.bar = b.p.AddBar(max(records, 0),
		mpb.PrependDecorators(
			decor.Name(string(kind), decor.WC{W: width + 1, C: decor.DindentRight}),
			decor.Any(func(s decor.Statistics) string {
				if _, _, done := pb.stats(); done || records < 0 {
					return fmt.Sprintf("%d records", s.Current)
				}
				return fmt.Sprintf("%d/%d records", s.Current, records)
			}, decor.WCSyncWidth),
		),
		mpb.AppendDecorators(
			decor.Any(func(s decor.Statistics) string {
				objs, added, done := pb.stats()
				state := "done"
				if !done {
					state = "reading"
					if records > 0 {
						state = fmt.Sprintf("%3.0f%%", min(100*float64(s.Current)/float64(records), 99))
					}
				}
				return fmt.Sprintf("%d objects, %d new  %s", objs, added, state)
			}, decor.WCSyncWidthR),
		),
	)
	b.mu.Lock()
	b.cur = pb
	b.mu.Unlock()
}

// page is engine.PlanOptions.OnPage.
func (b *planBars) page(sum engine.KindSummary) {
	if b == nil {
		return
	}
	b.mu.Lock()
	pb := b.cur
	b.mu.Unlock()
	if pb == nil {
		return
	}
	pb.mu.Lock()
	pb.objects, pb.new = sum.Objects, sum.New
	pb.mu.Unlock()
	if pb.records < 0 {
		pb.bar.SetTotal(sum.Records+1, false) // unknown count: the bar completes in finishKind
	}
	pb.bar.SetCurrent(sum.Records)
}

// finishKind completes the bar of the kind just read: its total becomes what was read.
func (b *planBars) finishKind() {
	b.mu.Lock()
	pb := b.cur
	b.cur = nil
	b.mu.Unlock()
	if pb != nil {
		pb.mu.Lock()
		pb.done = true
		pb.mu.Unlock()
		pb.bar.SetTotal(-1, true)
	}
}

// stop ends the bars; ok is false when plan stopped early, which leaves the last bar as it
// stands.
func (b *planBars) stop(ok bool) {
	if b == nil {
		return
	}
	b.restore()
	if ok {
		b.finishKind()
	} else if b.cur != nil {
		b.cur.bar.Abort(false)
	}
	b.p.Wait()
}
