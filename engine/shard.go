package engine

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// Shard is one of N disjoint parts of the catalog. The zero Shard (N 0) is the whole catalog.
//
// An object belongs to shard I of N when the FNV-1a 64-bit hash of its checkpoint ID
// (kind/record id/attachment/style, see checkpoint.Object.ID) is I modulo N. The ID, not the
// computed key, is hashed so that an object stays in its shard when its key changes between
// plans (a storage schema version raised, a key prefix set).
type Shard struct {
	I, N int // 0 <= I < N; N 0 = not sharded
}

// ParseShard reads "I/N" (0 <= I < N); "" is the zero Shard.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%q is not I/N with 0 <= I < N (e.g. 0/4 … 3/4)", s)
	}
	return Shard{I: i, N: n}, nil
}

// Sharded reports whether s is a proper part (N > 1) rather than the whole catalog.
func (s Shard) Sharded() bool { return s.N > 1 }

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Owns reports whether the object with checkpoint ID id belongs to s; the zero Shard owns all.
func (s Shard) Owns(id string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()%uint64(s.N) == uint64(s.I)
}

// ShardCatalog returns cat with every page filtered to the objects shard s owns, so that a plan
// run with it puts only those in the checkpoint. Records and Skipped still count every row
// read. It keeps cat's DeltaCatalog and Reconnector, if it has them. The zero Shard returns cat
// itself.
func ShardCatalog(cat Catalog, s Shard) Catalog {
	if !s.Sharded() {
		return cat
	}
	return filterCatalog(cat, func(_ catalog.Kind, p catalog.Page) catalog.Page {
		objs := make([]catalog.Object, 0, len(p.Objects)/s.N+1)
		for _, o := range p.Objects {
			if s.Owns(checkpointObject(o).ID()) {
				objs = append(objs, o)
			}
		}
		p.Objects = objs
		return p
	})
}

// ShardDeltaCatalog is ShardCatalog for the passes of copy --follow: what ScanChanged and
// ScanNew read is filtered to shard s too.
func ShardDeltaCatalog(cat DeltaCatalog, s Shard) DeltaCatalog {
	return ShardCatalog(cat, s).(DeltaCatalog)
}

// EachRow yields the report rows of the objects matching f in db, for report writers that
// combine several checkpoints.
func EachRow(db *checkpoint.DB, f checkpoint.Filter) func(func(Row) error) error {
	return eachRow(db, f)
}
