package engine

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/s3sync/s3sync/checkpoint"
)

// UsageRow is one kind's share of the migration, as `s3sync usage` prints it. Bytes are those
// written for done objects and the sizes the database knows for the others.
type UsageRow struct {
	Kind    string
	Records int64            // rows in the kind's table; -1 when the database was not asked
	Local   checkpoint.Count // objects of local records (irreplaceable), stale ones excluded
	Remote  checkpoint.Count // cached copies of remote media (Mastodon can fetch them again), stale ones excluded
	Done    checkpoint.Count
	Left    checkpoint.Count // pending or failed: still to copy
	Missing checkpoint.Count // absent at the source
	Stale   checkpoint.Count // no longer referenced, never copied
}

// Usage walks the checkpoint (the kinds given, empty = all) and sums each kind's objects.
func Usage(db *checkpoint.DB, kinds []string) ([]UsageRow, error) {
	rows := map[string]*UsageRow{}
	err := db.Each(checkpoint.Filter{Kinds: kinds}, func(o checkpoint.Object) error {
		r := rows[o.Kind]
		if r == nil {
			r = &UsageRow{Kind: o.Kind, Records: -1}
			rows[o.Kind] = r
		}
		n := o.Size
		if o.Status == checkpoint.Done {
			n = o.Bytes
		}
		add := func(c *checkpoint.Count) { c.Objects++; c.Bytes += n }
		switch o.Status {
		case checkpoint.Done:
			add(&r.Done)
		case checkpoint.Pending, checkpoint.Failed:
			add(&r.Left)
		case checkpoint.Missing:
			add(&r.Missing)
		case checkpoint.Stale:
			add(&r.Stale)
			return nil
		}
		if o.Remote {
			add(&r.Remote)
		} else {
			add(&r.Local)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]UsageRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}

// WriteUsage prints rows as a table with a total line.
func WriteUsage(w io.Writer, rows []UsageRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "KIND\tRECORDS\tLOCAL\tREMOTE CACHE\tDONE\tLEFT\tMISSING\tSTALE\t\n")
	var tot UsageRow
	records := func(n int64) string {
		if n < 0 {
			return "-"
		}
		return fmt.Sprint(n)
	}
	sum := func(a *checkpoint.Count, b checkpoint.Count) { a.Objects += b.Objects; a.Bytes += b.Bytes }
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Kind, records(r.Records), formatCount(r.Local), formatCount(r.Remote),
			formatCount(r.Done), formatCount(r.Left), formatCount(r.Missing), formatCount(r.Stale))
		if r.Records > 0 {
			tot.Records += r.Records
		}
		sum(&tot.Local, r.Local)
		sum(&tot.Remote, r.Remote)
		sum(&tot.Done, r.Done)
		sum(&tot.Left, r.Left)
		sum(&tot.Missing, r.Missing)
		sum(&tot.Stale, r.Stale)
	}
	fmt.Fprintf(tw, "total\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", tot.Records, formatCount(tot.Local), formatCount(tot.Remote),
		formatCount(tot.Done), formatCount(tot.Left), formatCount(tot.Missing), formatCount(tot.Stale))
	return tw.Flush()
}
