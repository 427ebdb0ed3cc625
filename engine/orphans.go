package engine

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/storage"
)

// Lister lists a bucket; *storage.Client implements it.
type Lister interface {
	// ListPage returns one page of the objects under prefix in key order, after the key after
	// ("" = from the first), and the key of the next page ("" after the last).
	ListPage(ctx context.Context, prefix, after string) ([]storage.ListedObject, string, error)
}

// Referencer says which keys the database references; *catalog.Reader implements it.
type Referencer interface {
	// Lookup returns every candidate key of the objects of the kind's records in the id ranges.
	Lookup(ctx context.Context, kind catalog.Kind, lo, hi []int64) (map[string]bool, error)
}

// OrphanTotals sums a bucket listing.
type OrphanTotals struct {
	Listed, ListedBytes   int64 // every key
	Orphans, OrphanBytes  int64 // keys the database does not reference
	Foreign, ForeignBytes int64 // of the orphans, keys outside Mastodon's layout
}

// orphanBatch is how many listed keys are checked against the database at once.
const orphanBatch = 1000

// Orphans lists the source bucket (streaming, one page in memory) and writes a CSV line
// "key,size,last_modified,reason" for every key no database record references: reason
// "unreferenced" (Mastodon's layout, but no record or another file name) or "not mastodon"
// (outside the layout). It never deletes anything.
func Orphans(ctx context.Context, src Lister, db Referencer, w io.Writer) (OrphanTotals, error) {
	var tot OrphanTotals
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"key", "size", "last_modified", "reason"}); err != nil {
		return tot, err
	}
	var batch []storage.ListedObject
	write := func(o storage.ListedObject, reason string) error {
		tot.Orphans++
		tot.OrphanBytes += o.Size
		if reason == "not mastodon" {
			tot.Foreign++
			tot.ForeignBytes += o.Size
		}
		return cw.Write([]string{o.Key, strconv.FormatInt(o.Size, 10), o.LastModified.UTC().Format(time.RFC3339), reason})
	}
	flush := func() error {
		type ranges struct{ lo, hi []int64 }
		byKind := map[catalog.Kind]*ranges{}
		parsed := make([]catalog.KeyRecords, len(batch))
		ok := make([]bool, len(batch))
		for i, o := range batch {
			parsed[i], ok[i] = catalog.ParseKey(o.Key)
			if !ok[i] {
				continue
			}
			r := byKind[parsed[i].Kind]
			if r == nil {
				r = &ranges{}
				byKind[parsed[i].Kind] = r
			}
			for _, rg := range parsed[i].Ranges {
				r.lo = append(r.lo, rg[0])
				r.hi = append(r.hi, rg[1])
			}
		}
		refs := map[catalog.Kind]map[string]bool{}
		for kind, r := range byKind {
			keys, err := db.Lookup(ctx, kind, r.lo, r.hi)
			if err != nil && !isNoTable(err) {
				return err
			}
			refs[kind] = keys
		}
		for i, o := range batch {
			var err error
			switch {
			case !ok[i]:
				err = write(o, "not mastodon")
			case !refs[parsed[i].Kind][o.Key]:
				err = write(o, "unreferenced")
			}
			if err != nil {
				return err
			}
		}
		batch = batch[:0]
		cw.Flush()
		return cw.Error()
	}
	// Each page is retried on its own (throttling, 5xx): the lines written so far stay valid.
	retry := defaultRetry()
	for after := ""; ; {
		var objs []storage.ListedObject
		var next string
		_, err := retry.do(ctx, func() error {
			var err error
			objs, next, err = src.ListPage(ctx, "", after)
			return err
		})
		if err != nil {
			return tot, err
		}
		for _, o := range objs {
			tot.Listed++
			tot.ListedBytes += o.Size
			batch = append(batch, o)
			if len(batch) >= orphanBatch {
				if err := flush(); err != nil {
					return tot, err
				}
			}
		}
		if next == "" {
			return tot, flush()
		}
		after = next
	}
}

func isNoTable(err error) bool { return err != nil && errors.Is(err, catalog.ErrNoTable) }
