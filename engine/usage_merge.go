package engine

import (
	"sort"

	"github.com/s3sync/s3sync/checkpoint"
)

// MergeUsage adds up the rows of several checkpoints (shards) kind by kind, as Usage of one
// checkpoint holding all their objects would give them; Records is -1 (the database is
// asked once, by the caller).
func MergeUsage(parts ...[]UsageRow) []UsageRow {
	byKind := map[string]*UsageRow{}
	add := func(a *checkpoint.Count, b checkpoint.Count) { a.Objects += b.Objects; a.Bytes += b.Bytes }
	for _, rows := range parts {
		for _, r := range rows {
			m := byKind[r.Kind]
			if m == nil {
				m = &UsageRow{Kind: r.Kind, Records: -1}
				byKind[r.Kind] = m
			}
			add(&m.Local, r.Local)
			add(&m.Remote, r.Remote)
			add(&m.Done, r.Done)
			add(&m.Left, r.Left)
			add(&m.Missing, r.Missing)
			add(&m.Stale, r.Stale)
		}
	}
	out := make([]UsageRow, 0, len(byKind))
	for _, r := range byKind {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
