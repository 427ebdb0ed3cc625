package engine

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/human"
)

// CSVHeader is the first line of `report --format csv`.
var CSVHeader = []string{"kind", "record_id", "attachment", "style", "key", "status", "attempts", "bytes", "error", "updated_at"}

// Row is one object in a csv or json report.
type Row struct {
	Kind       string    `json:"kind"`
	RecordID   int64     `json:"record_id"`
	Attachment string    `json:"attachment"`
	Style      string    `json:"style"`
	Key        string    `json:"key"`
	SourceKey  string    `json:"source_key,omitempty"` // where the copy found it, when not at Key
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	Bytes      int64     `json:"bytes"`
	Error      string    `json:"error"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// RowOf turns a checkpoint object into a report row. Key is the key Mastodon asks for, which
// the copy writes at the destination (SourceKey says where it read it, when that differs).
func RowOf(o checkpoint.Object) Row {
	key := o.DestKey()
	src := ""
	if o.SourceKey != key {
		src = o.SourceKey
	}
	bytes := o.Bytes
	if o.Status != checkpoint.Done {
		bytes = o.Size
	}
	return Row{Kind: o.Kind, RecordID: o.RecordID, Attachment: o.Attachment, Style: o.Style, Key: key, SourceKey: src,
		Status: string(o.Status), Attempts: o.Attempts, Bytes: bytes, Error: o.Error, UpdatedAt: o.UpdatedAt.UTC()}
}

// WriteTable prints objects and bytes per kind × status, with totals, for the given kinds
// (empty = all) and statuses (empty = all).
func WriteTable(w io.Writer, counts checkpoint.Counts, kinds []string, statuses []checkpoint.Status) error {
	if len(statuses) == 0 {
		statuses = checkpoint.Statuses
		if counts.Sum(checkpoint.Stale).Objects > 0 { // a STALE column only when there are stale objects
			statuses = checkpoint.AllStatuses
		}
	}
	var names []string
	for k := range counts {
		if len(kinds) == 0 || slices.Contains(kinds, k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)

	// Numbers align right; kind names are padded so they read left-aligned.
	width := len("total")
	for _, name := range names {
		width = max(width, len(name))
	}
	pad := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t", pad("KIND"))
	for _, s := range statuses {
		fmt.Fprintf(tw, "%s\t", strings.ToUpper(string(s)))
	}
	fmt.Fprint(tw, "TOTAL\t\n")
	total := map[checkpoint.Status]checkpoint.Count{}
	row := func(name string, byStatus map[checkpoint.Status]checkpoint.Count) {
		var sum checkpoint.Count
		fmt.Fprintf(tw, "%s\t", pad(name))
		for _, s := range statuses {
			c := byStatus[s]
			fmt.Fprintf(tw, "%s\t", formatCount(c))
			sum.Objects += c.Objects
			sum.Bytes += c.Bytes
		}
		fmt.Fprintf(tw, "%s\t\n", formatCount(sum))
	}
	for _, name := range names {
		row(name, counts[name])
		for _, s := range statuses {
			c := total[s]
			c.Objects += counts[name][s].Objects
			c.Bytes += counts[name][s].Bytes
			total[s] = c
		}
	}
	row("total", total)
	return tw.Flush()
}

func formatCount(c checkpoint.Count) string {
	return fmt.Sprintf("%d (%s)", c.Objects, human.Bytes(c.Bytes))
}

// WriteCSV writes one line per object matching f, streaming from the checkpoint.
func WriteCSV(w io.Writer, db *checkpoint.DB, f checkpoint.Filter) error {
	return WriteCSVRows(w, eachRow(db, f))
}

// WriteJSON writes a JSON array with one element per object matching f, streaming.
func WriteJSON(w io.Writer, db *checkpoint.DB, f checkpoint.Filter) error {
	return WriteJSONRows(w, eachRow(db, f))
}

// eachRow yields the rows of the objects matching f.
func eachRow(db *checkpoint.DB, f checkpoint.Filter) func(func(Row) error) error {
	return func(yield func(Row) error) error {
		return db.Each(f, func(o checkpoint.Object) error { return yield(RowOf(o)) })
	}
}

// WriteCSVRows writes the CSV header, then one line per row that each yields.
func WriteCSVRows(w io.Writer, each func(yield func(Row) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := each(func(r Row) error {
		return cw.Write([]string{r.Kind, strconv.FormatInt(r.RecordID, 10), r.Attachment, r.Style, r.Key,
			r.Status, strconv.Itoa(r.Attempts), strconv.FormatInt(r.Bytes, 10), r.Error, r.UpdatedAt.Format(time.RFC3339)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSONRows writes a JSON array with one element per row that each yields, streaming.
func WriteJSONRows(w io.Writer, each func(yield func(Row) error) error) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	first := true
	err := each(func(r Row) error {
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		sep := ",\n  "
		if first {
			sep, first = "\n  ", false
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	end := "\n]\n"
	if first {
		end = "]\n"
	}
	_, err = io.WriteString(w, end)
	return err
}
