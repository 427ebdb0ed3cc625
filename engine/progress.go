package engine

import (
	"fmt"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/human"
)

// progress logs the monitor's state and refreshes the status file; it lives in the writer
// goroutine only.
type progress struct {
	db         *checkpoint.DB
	opts       CopyOptions
	mon        *Monitor
	lastLogged int64
}

// newProgress counts the run's work from the checkpoint's counters and starts the monitor.
func newProgress(db *checkpoint.DB, opts CopyOptions) (*progress, error) {
	counts, err := db.Counts()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	opts.Monitor.begin(counts, opts.Kinds, opts.Limit, time.Now())
	return &progress{db: db, opts: opts, mon: opts.Monitor, lastLogged: -1}, nil
}

func (p *progress) summary() CopySummary {
	run := p.mon.Snapshot().Run
	return CopySummary{Done: run.Done.Objects, Found: run.Found.Objects, Failed: run.Failed.Objects, Missing: run.Missing.Objects, Bytes: run.Done.Bytes}
}

// report logs one progress line (unless QuietProgress) and refreshes the status file.
func (p *progress) report(final bool) {
	snap := p.mon.Snapshot()
	if p.opts.StatusFile != "" {
		if counts, err := p.db.Counts(); err == nil {
			st := Status{PID: pid(), Command: p.opts.Command, Running: !final || p.opts.Following, StartedAt: snap.StartedAt, UpdatedAt: time.Now(),
				Counts: counts, StatusAddr: p.opts.StatusAddr}
			if err := WriteStatus(p.opts.StatusFile, st); err != nil {
				p.opts.Log.Warn().Err(err).Msg("cannot write the status file")
			}
		}
	}
	run := snap.Run
	n := run.Processed()
	if final || p.opts.QuietProgress || n == p.lastLogged {
		return
	}
	p.lastLogged = n
	p.opts.Log.Info().
		Str("objects", fmt.Sprintf("%d/%d", n, run.Total.Objects)).
		Int64("done", run.Done.Objects).Int64("failed", run.Failed.Objects).Int64("missing", run.Missing.Objects).
		Str("bytes", human.Bytes(run.Done.Bytes)).
		Str("rate", fmt.Sprintf("%.1f obj/s, %s/s", snap.ObjectsPerSec, human.Bytes(int64(snap.BytesPerSec)))).
		Str("eta", human.ETA(snap.ETASeconds)).
		Int64("inflight", snap.InFlight).
		Msg("copying")
}
