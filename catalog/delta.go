package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watermark is how far a plan has read one kind: the highest record id and the latest
// <attachment>_updated_at of the table when the plan started. ScanChanged reads only rows
// beyond it.
type Watermark struct {
	MaxID     int64     // highest id; 0 for an empty table
	UpdatedAt time.Time // latest <attachment>_updated_at over the table's attachments; zero when none is set or the columns are absent
}

// CommitMargin is how far a Watermark's UpdatedAt stays behind the present. Rails stamps
// <attachment>_updated_at (and Mastodon's timestamp ids) when a record is saved, inside a
// transaction that may commit seconds or minutes later, while Paperclip uploads the file: a
// row committed after a scan can carry an older stamp than one the scan saw. Held back, every
// later ScanChanged reads such rows again (a few, merged as known) instead of missing them.
const CommitMargin = 15 * time.Minute

// heldBack returns t, but no later than CommitMargin before now and no earlier than floor.
func heldBack(t, floor time.Time) time.Time {
	if limit := time.Now().UTC().Add(-CommitMargin); t.After(limit) {
		t = limit
	}
	if t.Before(floor) {
		return floor
	}
	return t
}

// updatedAtExpr is GREATEST(<att>_updated_at, ...) over the attachments of q that have the
// column, or "" when none has.
func (r *Reader) updatedAtExpr(q *tableQuery) string {
	t := r.tables[q.kind]
	var cols []string
	for _, a := range q.atts {
		if name := a + "_updated_at"; t.has(name) {
			cols = append(cols, pgx.Identifier{name}.Sanitize())
		}
	}
	if len(cols) == 0 {
		return ""
	}
	return "GREATEST(" + strings.Join(cols, ", ") + ")"
}

// Watermark returns the kind's current Watermark. max(id) uses the primary key; the latest
// updated_at needs one sequential scan of the table (Mastodon has no index on those
// columns), done once per full plan; UpdatedAt is held back by CommitMargin.
func (r *Reader) Watermark(ctx context.Context, kind Kind) (Watermark, error) {
	q, err := r.query(kind)
	if err != nil {
		return Watermark{}, err
	}
	upd := "NULL::text"
	if e := r.updatedAtExpr(q); e != "" {
		upd = "max(" + e + ")::text"
	}
	var w Watermark
	var ts *string
	err = r.locked(func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT COALESCE(max(id), 0)::bigint, "+upd+" FROM "+q.from).Scan(&w.MaxID, &ts)
	})
	if err != nil {
		return Watermark{}, fmt.Errorf("catalog: watermark %s: %w", kind, err)
	}
	w.UpdatedAt = heldBack(parsePGTime(ts), time.Time{})
	return w, nil
}

// ScanChanged reads the rows of kind that are beyond since: records with id > since.MaxID (a
// primary key range, read in pages like Scan) and records with id <= since.MaxID whose
// latest <attachment>_updated_at is after since.UpdatedAt (one query; Mastodon has no index
// on these columns, so PostgreSQL filters them in a sequential scan, but only the changed
// rows are sent). It returns the Watermark of what it read, at least since, its UpdatedAt
// held back by CommitMargin so that rows committed late are read again. Pages hold the
// records' objects as Scan's do; page.Records counts the rows read.
func (r *Reader) ScanChanged(ctx context.Context, kind Kind, since Watermark, pageSize int, fn func(Page) error) (Watermark, error) {
	q, err := r.query(kind)
	if err != nil {
		return since, err
	}
	next := since
	upd := r.updatedAtExpr(q)
	if upd != "" {
		// Changed records among the known ones; few, so one page.
		// No ORDER BY (Merge sorts a page itself): with one, PostgreSQL walks the whole primary
		// key in order, flushing its cache, instead of a sequential scan; and $2::timestamp, not
		// $2::text::timestamp, so the bound is parsed once, not for every row (BENCHMARKS.md,
		// "copy --follow: what a pass costs the database": 3.8 times faster on 1M rows).
		sql := "SELECT " + q.columns + ", " + upd + "::text FROM " + q.from + " WHERE id <= $1 AND " + upd + " > $2::timestamp"
		var page Page
		err := r.locked(func(conn *pgx.Conn) error {
			after := "-infinity" // no timestamp seen yet: any row that has one changed since
			if !since.UpdatedAt.IsZero() {
				after = formatPGTime(since.UpdatedAt)
			}
			rows, err := conn.Query(ctx, sql, since.MaxID, after)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				rec, ts, err := q.scanRecordUpdated(rows)
				if err != nil {
					return err
				}
				if t := parsePGTime(ts); t.After(next.UpdatedAt) {
					next.UpdatedAt = t
				}
				addRecord(&page, rec)
			}
			return rows.Err()
		})
		if err != nil {
			return since, fmt.Errorf("catalog: scan changed %s: %w", kind, err)
		}
		if page.Records > 0 {
			if err := fn(page); err != nil {
				return since, err
			}
		}
	}
	// New records: the id range past the watermark, through the primary key.
	after := since.MaxID
	err = r.Scan(ctx, kind, ScanOptions{AfterID: &after, PageSize: pageSize}, func(p Page) error {
		next.MaxID = max(next.MaxID, p.LastID)
		return fn(p)
	})
	if err != nil {
		return since, err
	}
	if upd != "" {
		// The new records' updated_at, so that the next delta does not read them again.
		var ts *string
		err := r.locked(func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, "SELECT max("+upd+")::text FROM "+q.from+" WHERE id > $1 AND id <= $2", since.MaxID, next.MaxID).Scan(&ts)
		})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return since, fmt.Errorf("catalog: scan changed %s: %w", kind, err)
		}
		if t := parsePGTime(ts); t.After(next.UpdatedAt) {
			next.UpdatedAt = t
		}
	}
	next.UpdatedAt = heldBack(next.UpdatedAt, since.UpdatedAt)
	return next, nil
}

// ScanNew reads only the records of kind created after since: id > since.MaxID, a range of
// the primary key read in pages as Scan does, whose cost follows the number of new rows, not
// the table's. It is the cheap half of ScanChanged, for `copy --follow`'s frequent passes: a
// replaced file (a later <attachment>_updated_at on a known record) needs ScanChanged's scan
// of the whole table. The Watermark it returns has MaxID advanced and UpdatedAt unchanged, so
// that the next ScanChanged still finds every file replaced since since, and every record
// committed late with an id below the new MaxID.
func (r *Reader) ScanNew(ctx context.Context, kind Kind, since Watermark, pageSize int, fn func(Page) error) (Watermark, error) {
	next := since
	after := since.MaxID
	err := r.Scan(ctx, kind, ScanOptions{AfterID: &after, PageSize: pageSize}, func(p Page) error {
		next.MaxID = max(next.MaxID, p.LastID)
		return fn(p)
	})
	if err != nil {
		return since, err
	}
	return next, nil
}

// scanRecordUpdated reads a row of q's columns followed by one timestamp.
func (q *tableQuery) scanRecordUpdated(rows pgx.Rows) (Record, *string, error) {
	var ts *string
	rec, err := q.scanRecordExtra(rows, &ts)
	return rec, ts, err
}

// addRecord adds rec and its objects to page.
func addRecord(page *Page, rec Record) {
	objs, skipped, invalid := rec.Objects()
	page.Records++
	page.LastID = rec.ID
	page.Skipped += skipped
	page.Objects = append(page.Objects, objs...)
	page.Invalid = append(page.Invalid, invalid...)
}

// pgTimeLayout is how PostgreSQL prints a timestamp without time zone as text (ISO DateStyle).
const pgTimeLayout = "2006-01-02 15:04:05.999999"

// parsePGTime parses a timestamp's text as UTC (Rails stores UTC); nil or garbage gives zero.
// Timestamps travel as text so the session's TimeZone never shifts them.
func parsePGTime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(pgTimeLayout, *s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// formatPGTime is the inverse of parsePGTime.
func formatPGTime(t time.Time) string { return t.UTC().Format(pgTimeLayout) }

// FormatWatermark and ParseWatermark store a Watermark as text: "<max id> <updated_at>".
func FormatWatermark(w Watermark) string {
	return fmt.Sprintf("%d %s", w.MaxID, w.UpdatedAt.UTC().Format(time.RFC3339Nano))
}

// ParseWatermark parses what FormatWatermark wrote; ok is false for "" or garbage.
func ParseWatermark(s string) (w Watermark, ok bool) {
	id, ts, found := strings.Cut(s, " ")
	if !found {
		return Watermark{}, false
	}
	if _, err := fmt.Sscan(id, &w.MaxID); err != nil {
		return Watermark{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Watermark{}, false
	}
	if !t.Equal(time.Time{}) {
		w.UpdatedAt = t.UTC()
	}
	return w, true
}
