package engine

import (
	"context"
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
// read. It keeps cat's Reconnector, if it has one. The zero Shard returns cat itself.
func ShardCatalog(cat Catalog, s Shard) Catalog {
	if !s.Sharded() {
		return cat
	}
	sc := shardCatalog{cat: cat, shard: s}
	if rc, ok := cat.(Reconnector); ok {
		return reconnectingShardCatalog{sc, rc}
	}
	return sc
}

// ShardDeltaCatalog is ShardCatalog for the passes of copy --follow: what ScanChanged and
// ScanNew read is filtered to shard s too. It keeps cat's Reconnector, if it has one. The zero
// Shard returns cat itself.
func ShardDeltaCatalog(cat DeltaCatalog, s Shard) DeltaCatalog {
	if !s.Sharded() {
		return cat
	}
	dc := shardDeltaCatalog{shardCatalog{cat: cat, shard: s}, cat}
	if rc, ok := cat.(Reconnector); ok {
		return reconnectingShardDeltaCatalog{dc, rc}
	}
	return dc
}

type shardDeltaCatalog struct {
	shardCatalog
	dc DeltaCatalog
}

func (c shardDeltaCatalog) Watermark(ctx context.Context, kind catalog.Kind) (catalog.Watermark, error) {
	return c.dc.Watermark(ctx, kind)
}

func (c shardDeltaCatalog) ScanChanged(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	return c.dc.ScanChanged(ctx, kind, since, pageSize, func(p catalog.Page) error { return fn(c.filter(p)) })
}

func (c shardDeltaCatalog) ScanNew(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	return c.dc.ScanNew(ctx, kind, since, pageSize, func(p catalog.Page) error { return fn(c.filter(p)) })
}

type reconnectingShardDeltaCatalog struct {
	shardDeltaCatalog
	rc Reconnector
}

func (c reconnectingShardDeltaCatalog) Reconnect(ctx context.Context) error {
	return c.rc.Reconnect(ctx)
}

type shardCatalog struct {
	cat   Catalog
	shard Shard
}

func (c shardCatalog) Scan(ctx context.Context, kind catalog.Kind, opts catalog.ScanOptions, fn func(catalog.Page) error) error {
	return c.cat.Scan(ctx, kind, opts, func(p catalog.Page) error { return fn(c.filter(p)) })
}

// filter keeps the objects of p that the shard owns; Records and Skipped still count every row.
func (c shardCatalog) filter(p catalog.Page) catalog.Page {
	objs := make([]catalog.Object, 0, len(p.Objects)/c.shard.N+1)
	for _, o := range p.Objects {
		if c.shard.Owns(checkpointObject(o).ID()) {
			objs = append(objs, o)
		}
	}
	p.Objects = objs
	return p
}

func (c shardCatalog) Count(ctx context.Context, kind catalog.Kind) (int64, error) {
	return c.cat.Count(ctx, kind)
}

type reconnectingShardCatalog struct {
	shardCatalog
	rc Reconnector
}

func (c reconnectingShardCatalog) Reconnect(ctx context.Context) error { return c.rc.Reconnect(ctx) }

// EachRow yields the report rows of the objects matching f in db, for report writers that
// combine several checkpoints.
func EachRow(db *checkpoint.DB, f checkpoint.Filter) func(func(Row) error) error {
	return eachRow(db, f)
}
