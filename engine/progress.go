package engine

import (
	"fmt"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
)

// progress counts committed results and logs them; it lives in the writer goroutine only.
type progress struct {
	db    *checkpoint.DB
	opts  CopyOptions
	start time.Time
	total int64 // objects pending when the run started (capped by the limit)

	done, failed, missing, bytes int64
	lastLogged                   int64
}

func newProgress(db *checkpoint.DB, opts CopyOptions) (*progress, error) {
	total, err := pendingCount(db, opts.Kinds)
	if err != nil {
		return nil, err
	}
	if opts.Limit > 0 && total > opts.Limit {
		total = opts.Limit
	}
	return &progress{db: db, opts: opts, start: time.Now(), total: total, lastLogged: -1}, nil
}

// committed counts a batch after its transaction committed.
func (p *progress) committed(batch []checkpoint.Update) {
	for _, u := range batch {
		switch u.Status {
		case checkpoint.Done:
			p.done++
			p.bytes += u.Bytes
		case checkpoint.Failed:
			p.failed++
		case checkpoint.Missing:
			p.missing++
		}
	}
}

func (p *progress) summary() CopySummary {
	return CopySummary{Done: p.done, Failed: p.failed, Missing: p.missing, Bytes: p.bytes}
}

// report logs one progress line and refreshes the status file.
func (p *progress) report(final bool) {
	if p.opts.StatusFile != "" {
		if counts, err := p.db.Counts(); err == nil {
			st := Status{PID: pid(), Command: "copy", Running: !final, StartedAt: p.start, UpdatedAt: time.Now(), Counts: counts}
			if err := WriteStatus(p.opts.StatusFile, st); err != nil {
				p.opts.Log.Warn().Err(err).Msg("cannot write the status file")
			}
		}
	}
	n := p.done + p.failed + p.missing
	if final || n == p.lastLogged {
		return
	}
	p.lastLogged = n
	elapsed := time.Since(p.start)
	rate := float64(n) / elapsed.Seconds()
	eta := "unknown"
	if left := p.total - n; rate > 0 && left >= 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	p.opts.Log.Info().
		Str("objects", fmt.Sprintf("%d/%d", n, p.total)).
		Int64("done", p.done).Int64("failed", p.failed).Int64("missing", p.missing).
		Str("bytes", FormatBytes(p.bytes)).
		Str("rate", fmt.Sprintf("%.1f obj/s, %s/s", rate, FormatBytes(int64(float64(p.bytes)/elapsed.Seconds())))).
		Str("eta", eta).
		Msg("copying")
}

// FormatBytes prints n in binary units: 0 B, 1.5 KiB, 3.2 GiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
