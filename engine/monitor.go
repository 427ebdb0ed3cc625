package engine

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
)

// Monitor limits. The throughput history keeps at most historyLen samples: when it is full,
// every other sample is dropped and the interval doubles, so the chart always covers the
// whole run.
const (
	historyLen      = 360
	historyInterval = 2 * time.Second
	rateWindow      = 30 * time.Second
	recentFailures  = 50
)

// Phases of a copy run, as Snapshot.Phase reports them.
const (
	PhaseStarting    = "starting"    // the copy has not counted its work yet
	PhaseCopying     = "copying"     // workers are copying
	PhaseStopping    = "stopping"    // interrupted: no new objects, in-flight ones finishing
	PhaseDone        = "done"        // the work ran out (or the limit was reached)
	PhaseInterrupted = "interrupted" // stopped by a signal; resumable
	PhaseFailed      = "failed"      // ended by an error (Snapshot.Error)
	PhaseFollowing   = "following"   // copy --follow: between passes, waiting for the next one
)

// Monitor is the live state of one copy run, fed by Copy and read by progress bars and the
// status server. Its counts change only after the checkpoint transaction that recorded a
// result committed, so they never run ahead of the checkpoint. Use NewMonitor; all methods
// are safe for concurrent use.
type Monitor struct {
	inflight atomic.Int64
	retries  atomic.Int64

	mu          sync.Mutex
	phase       string
	errMsg      string
	start       time.Time
	end         time.Time // zero while running
	kinds       []string  // kinds the run covers, sorted
	counts      map[string]map[checkpoint.Status]Tally
	run         map[string]*Progress
	history     []Sample
	interval    time.Duration // between history samples
	lastHistory time.Time
	recent      []Sample // 1 s samples of the last rateWindow, for the current rate
	failures    []Failure
	processed   Tally        // this run's done+failed+missing objects; bytes written
	follow      *FollowState // copy --follow's passes, nil when not following
	begun       bool         // a run began: the next one (a pass of copy --follow) continues its history
}

// FollowState is what `copy --follow` has done so far, for the progress line, the status page,
// /api/status and /metrics.
type FollowState struct {
	Passes       int       `json:"passes"`         // delta passes finished (the first copy of the pending objects is not one)
	LastPassAt   time.Time `json:"last_pass_at"`   // when the last pass finished; zero before the first
	NextPassAt   time.Time `json:"next_pass_at"`   // when the next pass starts; zero when none will
	LastRescanAt time.Time `json:"last_rescan_at"` // the last pass that also looked for replaced files (a full scan)
	RecordsSeen  int64     `json:"records_seen"`   // records the passes read, over all passes
	ObjectsAdded int64     `json:"objects_added"`  // objects the passes added to the checkpoint
	LastAdded    int64     `json:"last_added"`     // objects the last pass added
	QuietPasses  int       `json:"quiet_passes"`   // passes in a row that found nothing new and left nothing pending
	Pending      int64     `json:"pending"`        // objects still pending after the last pass
	LagSeconds   float64   `json:"lag_seconds"`    // age of the oldest object still pending after the last pass; 0 when none
	// ReadyToStop says that following may end: QuietToStop quiet passes in a row, one of
	// them a rescan (which finds replaced files; the other passes do not look for them).
	ReadyToStop bool `json:"ready_to_stop"`
}

// QuietToStop is how many quiet passes in a row, one of them a rescan, make following ready
// to stop (FollowState.ReadyToStop).
const QuietToStop = 3

// NewMonitor returns a Monitor in PhaseStarting.
func NewMonitor() *Monitor {
	return &Monitor{phase: PhaseStarting, start: time.Now(), interval: historyInterval,
		counts: map[string]map[checkpoint.Status]Tally{}, run: map[string]*Progress{}}
}

// Tally is a number of objects and their bytes.
type Tally struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// Progress is a run's work and how far it got. Bytes of Total, Failed and Missing are the
// sizes the database knows (it does not know every size, so Total.Bytes is a lower bound);
// Done.Bytes are the bytes written.
type Progress struct {
	Total   Tally `json:"total"` // objects the run takes: pending at its start, capped by the limit
	Done    Tally `json:"done"`
	Found   Tally `json:"found"` // of Done, those the destination held already: not copied (copy --follow, after the switch)
	Failed  Tally `json:"failed"`
	Missing Tally `json:"missing"`
}

// Processed is how many of Total objects have a result.
func (p Progress) Processed() int64 { return p.Done.Objects + p.Failed.Objects + p.Missing.Objects }

// Left is how many of Total objects have no result yet.
func (p Progress) Left() int64 { return max(p.Total.Objects-p.Processed(), 0) }

// Sample is one point of the throughput history: the run's cumulative results at a time, and
// the rates since the sample before it.
type Sample struct {
	Time          time.Time `json:"time"`
	Objects       int64     `json:"objects"`            // results so far in this run (done, failed, missing)
	Bytes         int64     `json:"bytes"`              // bytes written so far in this run
	ObjectsPerSec float64   `json:"objects_per_second"` // since the previous sample
	BytesPerSec   float64   `json:"bytes_per_second"`
}

// Failure is one object that ended failed or missing in this run.
type Failure struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	Key      string    `json:"key"` // the computed key (the first candidate)
	Status   string    `json:"status"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
}

// KindSnapshot is one kind's part of a Snapshot.
type KindSnapshot struct {
	Kind string   `json:"kind"`
	Run  Progress `json:"run"`
	// Checkpoint is what the checkpoint holds of this kind, by status (all four present).
	Checkpoint map[string]Tally `json:"checkpoint"`
}

// Snapshot is a consistent copy of a Monitor's state.
type Snapshot struct {
	Phase          string         `json:"phase"` // one of the Phase constants
	Error          string         `json:"error,omitempty"`
	StartedAt      time.Time      `json:"started_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	Run            Progress       `json:"run"`
	ObjectsPerSec  float64        `json:"objects_per_second"` // over the last 30 s
	BytesPerSec    float64        `json:"bytes_per_second"`
	ETASeconds     float64        `json:"eta_seconds"` // -1 while unknown, 0 when finished
	InFlight       int64          `json:"inflight"`    // objects being copied now
	Retries        int64          `json:"retries"`     // retried requests in this run
	Kinds          []KindSnapshot `json:"kinds"`
	// Checkpoint is what the checkpoint holds over the run's kinds, by status.
	Checkpoint     map[string]Tally `json:"checkpoint"`
	History        []Sample         `json:"history"`
	RecentFailures []Failure        `json:"recent_failures"` // newest first, at most 50
	// Follow is copy --follow's state; absent when the copy does not follow.
	Follow *FollowState `json:"follow,omitempty"`
}

// Running reports whether the run has not ended.
func (s Snapshot) Running() bool {
	return s.Phase == PhaseStarting || s.Phase == PhaseCopying || s.Phase == PhaseStopping || s.Phase == PhaseFollowing
}

// SetFollow records copy --follow's state (Follow calls it after every pass).
func (m *Monitor) SetFollow(f FollowState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.follow = &f
}

// begin records the checkpoint's counts at the start and the run's work: the pending objects
// of kinds (all when empty), the first limit of them in ID order when limit > 0.
func (m *Monitor) begin(counts checkpoint.Counts, kinds []string, limit int64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A Monitor that already saw a run (the passes of copy --follow) keeps its start and its
	// history, and its rates start from what was processed so far.
	if !m.begun {
		m.start, m.lastHistory = now, now
		m.history = []Sample{{Time: now}}
	}
	m.begun, m.phase, m.end = true, PhaseCopying, time.Time{}
	m.kinds = nil
	for kind := range counts {
		if len(kinds) == 0 || slices.Contains(kinds, kind) {
			m.kinds = append(m.kinds, kind)
		}
	}
	sort.Strings(m.kinds) // the order NextPending takes them in, so the limit falls the same way
	left := limit
	for _, kind := range m.kinds {
		byStatus := map[checkpoint.Status]Tally{}
		for _, s := range checkpoint.Statuses {
			c := counts[kind][s]
			byStatus[s] = Tally{c.Objects, c.Bytes}
		}
		m.counts[kind] = byStatus
		total := byStatus[checkpoint.Pending]
		if limit > 0 {
			n := min(total.Objects, left)
			if n < total.Objects && total.Objects > 0 {
				total.Bytes = total.Bytes * n / total.Objects // an estimate: sizes differ
			}
			total.Objects = n
			left -= n
		}
		m.run[kind] = &Progress{Total: total}
	}
	m.recent = []Sample{m.pointLocked(now, nil)}
}

// committed counts results after their transaction committed.
func (m *Monitor) committed(batch []result, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range batch {
		byStatus := m.counts[r.kind]
		run := m.run[r.kind]
		if byStatus == nil || run == nil {
			continue
		}
		p := byStatus[checkpoint.Pending]
		p.Objects--
		p.Bytes -= r.size
		byStatus[checkpoint.Pending] = p
		t := Tally{1, r.size}
		switch r.Status {
		case checkpoint.Done:
			t.Bytes = r.Bytes
			run.Done.Objects++
			run.Done.Bytes += r.Bytes
			m.processed.Bytes += r.Bytes
			if r.Found {
				run.Found.Objects++
			}
		case checkpoint.Failed:
			run.Failed.Objects++
			run.Failed.Bytes += r.size
		case checkpoint.Missing:
			run.Missing.Objects++
			run.Missing.Bytes += r.size
		}
		m.processed.Objects++
		c := byStatus[r.Status]
		c.Objects += t.Objects
		c.Bytes += t.Bytes
		byStatus[r.Status] = c
		if r.Status == checkpoint.Failed || r.Status == checkpoint.Missing {
			if len(m.failures) == recentFailures {
				m.failures = slices.Delete(m.failures, 0, 1)
			}
			m.failures = append(m.failures, Failure{Time: now.UTC(), Kind: r.kind, ID: r.ID, Key: r.key,
				Status: string(r.Status), Error: r.Error, Attempts: r.Attempts})
		}
	}
}

// sample records the run's cumulative results for the rates and the history.
func (m *Monitor) sample(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase == PhaseStarting {
		return
	}
	m.recent = append(m.recent, m.pointLocked(now, m.recent))
	for len(m.recent) > 2 && now.Sub(m.recent[1].Time) >= rateWindow {
		m.recent = m.recent[1:]
	}
	if now.Sub(m.lastHistory) < m.interval {
		return
	}
	m.lastHistory = now
	m.history = append(m.history, m.pointLocked(now, m.history))
	if len(m.history) >= historyLen {
		// Keep the first sample and every other one after it; rates then span the new interval.
		kept := m.history[:1]
		for i := 2; i < len(m.history); i += 2 {
			s := m.history[i]
			prev := kept[len(kept)-1]
			s.ObjectsPerSec, s.BytesPerSec = rates(prev, s)
			kept = append(kept, s)
		}
		m.history = kept
		m.interval *= 2
	}
}

// pointLocked is a sample at now following the last of prev.
func (m *Monitor) pointLocked(now time.Time, prev []Sample) Sample {
	s := Sample{Time: now, Objects: m.processed.Objects, Bytes: m.processed.Bytes}
	if len(prev) > 0 {
		s.ObjectsPerSec, s.BytesPerSec = rates(prev[len(prev)-1], s)
	}
	return s
}

func rates(from, to Sample) (objs, bytes float64) {
	secs := to.Time.Sub(from.Time).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	return float64(to.Objects-from.Objects) / secs, float64(to.Bytes-from.Bytes) / secs
}

// setPhase moves the run to phase; an error message goes with PhaseFailed.
func (m *Monitor) setPhase(phase, errMsg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase, m.errMsg = phase, errMsg
	if phase == PhaseDone || phase == PhaseInterrupted || phase == PhaseFailed {
		m.end = time.Now()
	}
}

// Snapshot returns the current state.
func (m *Monitor) Snapshot() Snapshot {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	end := now
	if !m.end.IsZero() {
		end = m.end
	}
	s := Snapshot{
		Phase:          m.phase,
		Error:          m.errMsg,
		StartedAt:      m.start.UTC(),
		UpdatedAt:      now.UTC(),
		ElapsedSeconds: end.Sub(m.start).Seconds(),
		InFlight:       m.inflight.Load(),
		Retries:        m.retries.Load(),
		Kinds:          []KindSnapshot{},
		Checkpoint:     map[string]Tally{},
		History:        append([]Sample{}, m.history...),
		RecentFailures: make([]Failure, 0, len(m.failures)),
	}
	for _, st := range checkpoint.Statuses {
		s.Checkpoint[string(st)] = Tally{}
	}
	for _, kind := range m.kinds {
		run := *m.run[kind]
		ks := KindSnapshot{Kind: kind, Run: run, Checkpoint: map[string]Tally{}}
		for _, st := range checkpoint.Statuses {
			c := m.counts[kind][st]
			ks.Checkpoint[string(st)] = c
			t := s.Checkpoint[string(st)]
			t.Objects += c.Objects
			t.Bytes += c.Bytes
			s.Checkpoint[string(st)] = t
		}
		s.Kinds = append(s.Kinds, ks)
		for _, p := range []struct{ sum, add *Tally }{{&s.Run.Total, &run.Total}, {&s.Run.Done, &run.Done}, {&s.Run.Found, &run.Found},
			{&s.Run.Failed, &run.Failed}, {&s.Run.Missing, &run.Missing}} {
			p.sum.Objects += p.add.Objects
			p.sum.Bytes += p.add.Bytes
		}
	}
	for i := len(m.failures) - 1; i >= 0; i-- {
		s.RecentFailures = append(s.RecentFailures, m.failures[i])
	}
	if m.follow != nil {
		f := *m.follow
		s.Follow = &f
	}

	// The current rate: over the last samples of the window when there are some, else since
	// the start.
	if len(m.recent) > 0 && s.Running() {
		s.ObjectsPerSec, s.BytesPerSec = rates(m.recent[0], m.pointLocked(now, nil))
	} else if secs := s.ElapsedSeconds; secs > 0 {
		s.ObjectsPerSec, s.BytesPerSec = float64(m.processed.Objects)/secs, float64(m.processed.Bytes)/secs
	}
	left := s.Run.Left()
	switch {
	case !s.Running() || left == 0:
		s.ETASeconds = 0
	case s.ObjectsPerSec > 0:
		s.ETASeconds = float64(left) / s.ObjectsPerSec
	default:
		s.ETASeconds = -1
	}
	return s
}
