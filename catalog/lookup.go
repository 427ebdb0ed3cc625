package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// KeyRecords is what a bucket key says about the record it belongs to, by the Paperclip layout.
type KeyRecords struct {
	Kind Kind
	// Ranges holds the id ranges [lo, hi] the record's id is in: the partition's digits, and
	// when ids one or two digits longer have the same partition (it drops the trailing digits
	// of ids whose zero-padded length is not a multiple of 3), their ranges too.
	Ranges [][2]int64
	Remote bool // the key is under cache/
}

// ParseKey reads [cache/]<class>/<attachment>/<id_partition>/<style>/<filename> (a key
// relative to the key prefix); ok is false for a key that is not in Mastodon's layout.
func ParseKey(key string) (kr KeyRecords, ok bool) {
	rest, remote := strings.CutPrefix(key, cachePrefix)
	parts := strings.Split(rest, "/")
	if len(parts) < 6 {
		return KeyRecords{}, false
	}
	kind := Kind(parts[0])
	s, known := specs[kind]
	if !known {
		return KeyRecords{}, false
	}
	plural := false
	for _, a := range s.attachments {
		plural = plural || a.plural == parts[1]
	}
	groups := parts[2 : len(parts)-2]
	if !plural || len(groups) < 3 || len(groups) > 7 {
		return KeyRecords{}, false
	}
	digits := ""
	for _, g := range groups {
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return KeyRecords{}, false
		}
		digits += g
	}
	d, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return KeyRecords{}, false
	}
	kr = KeyRecords{Kind: kind, Ranges: [][2]int64{{d, d}}, Remote: remote}
	// An id one or two digits longer than the partition shows has the same partition, under
	// kt-paperclip's padding (ids of 13, 14, 16, 17 … digits) or under the 9-digit padding of
	// Mastodon 3.4 and older (ids of 10 and 11 digits).
	part := strings.Join(groups, "/")
	if d <= (1<<63-1-99)/100 && len(digits) >= 9 {
		for _, lo := range []int64{d * 10, d * 100} {
			if IDPartition(lo) == part || LegacyIDPartition(lo) == part {
				kr.Ranges = append(kr.Ranges, [2]int64{lo, lo + lo/d - 1})
			}
		}
	}
	return kr, true
}

// Lookup reads the records of kind whose ids fall in any of the ranges [lo[i], hi[i]] (one
// query, an index range scan per range) and returns the keys their objects may be stored
// under: every candidate of every object.
func (r *Reader) Lookup(ctx context.Context, kind Kind, lo, hi []int64) (map[string]bool, error) {
	keys := make(map[string]bool)
	if len(lo) == 0 {
		return keys, nil
	}
	q, err := r.query(kind)
	if err != nil {
		return nil, err
	}
	// The range table's columns (lo, hi) are no Mastodon column names, so q's stay unambiguous.
	sql := "SELECT DISTINCT ON (t.id) " + q.columns + " FROM " + q.from + " AS t JOIN unnest($1::bigint[], $2::bigint[]) AS r(lo, hi) ON t.id BETWEEN r.lo AND r.hi ORDER BY t.id"
	err = r.locked(func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := q.scanRecord(rows)
			if err != nil {
				return err
			}
			objs, _, _ := rec.Objects()
			for _, o := range objs {
				for _, c := range o.Candidates {
					keys[c] = true
				}
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: lookup %s: %w", kind, err)
	}
	return keys, nil
}
