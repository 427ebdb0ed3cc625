package engine

import (
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/catalog"
)

// MaxKeyBytes is the longest object key S3 accepts, in bytes of UTF-8 (AWS S3; R2, B2, GCS,
// MinIO and the others follow it). A longer PUT is refused (KeyTooLongError).
const MaxKeyBytes = 1024

// OverlongLogCap is how many overlong objects plan logs one by one; the rest are counted.
const OverlongLogCap = 20

// KeyLimit leaves out of plan the objects whose key at the destination (key_prefix
// included) is longer than MaxKeyBytes: such a key cannot exist in an S3 bucket, so Mastodon's
// own upload of the file failed, and the copy could only mark the object failed again on every
// run (exit 3 for ever, retry-failed putting it back in vain). It counts them per kind for
// plan's table and logs each one, up to OverlongLogCap. A filter is used by one plan.
type KeyLimit struct {
	prefix string // [s3.destination] key_prefix, "" = none
	log    zerolog.Logger

	mu     sync.Mutex
	seen   map[string]bool // object IDs counted, so a page read again after a reconnection counts once
	byKind map[catalog.Kind]int64
	logged int
}

// NewKeyLimit returns the filter of one plan for a destination whose keys start with prefix
// and "/" ("" = no prefix).
func NewKeyLimit(prefix string, log zerolog.Logger) *KeyLimit {
	return &KeyLimit{prefix: prefix, log: log, seen: map[string]bool{}, byKind: map[catalog.Kind]int64{}}
}

// keyBytes is the length of the destination key of o, key prefix included.
func (f *KeyLimit) keyBytes(o catalog.Object) int {
	n := len(o.Key())
	if f.prefix != "" {
		n += len(f.prefix) + 1
	}
	return n
}

// page returns p without its overlong objects, counting and logging them.
func (f *KeyLimit) page(kind catalog.Kind, p catalog.Page) catalog.Page {
	var keep []catalog.Object // nil until the first overlong object: most pages have none
	for i, o := range p.Objects {
		if n := f.keyBytes(o); n > MaxKeyBytes {
			if keep == nil {
				keep = append(make([]catalog.Object, 0, len(p.Objects)), p.Objects[:i]...)
			}
			f.count(kind, o, n)
			continue
		}
		if keep != nil {
			keep = append(keep, o)
		}
	}
	if keep != nil {
		p.Objects = keep
	}
	return p
}

func (f *KeyLimit) count(kind catalog.Kind, o catalog.Object, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := checkpointObject(o).ID()
	if f.seen[id] {
		return
	}
	f.seen[id] = true
	f.byKind[kind]++
	if f.logged < OverlongLogCap {
		f.logged++
		f.log.Warn().Str("table", kind.Table()).Int64("id", o.RecordID).Str("attachment", o.Attachment).
			Str("style", o.Style).Int("key_bytes", n).Int("limit", MaxKeyBytes).
			Msg("not planned: the object's key is longer than S3 allows, so no bucket can hold it")
	}
}

// Total is the number of overlong objects left out.
func (f *KeyLimit) Total() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, c := range f.byKind {
		n += c
	}
	return n
}

// Annotate adds each kind's count to its NOTE in plan's table, and logs how many were not
// logged one by one.
func (f *KeyLimit) Annotate(sums []KindSummary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range sums {
		n := f.byKind[sums[i].Kind]
		if n == 0 {
			continue
		}
		note := fmt.Sprintf("%d key(s) over %d bytes, not planned", n, MaxKeyBytes)
		if sums[i].Note != "" {
			note = sums[i].Note + "; " + note
		}
		sums[i].Note = note
	}
	if more := int64(len(f.seen) - f.logged); more > 0 {
		f.log.Warn().Int64("objects", more).Msgf("%d more object(s) with keys over %d bytes not planned (not logged one by one)", more, MaxKeyBytes)
	}
}

// Wrap returns cat with the overlong objects of every page left out, keeping the optional
// interfaces plan looks for (DeltaCatalog, Reconnector).
func (f *KeyLimit) Wrap(cat Catalog) Catalog { return filterCatalog(cat, f.page) }

// WrapDelta is Wrap for plan --changed.
func (f *KeyLimit) WrapDelta(cat DeltaCatalog) DeltaCatalog {
	return f.Wrap(cat).(DeltaCatalog)
}
