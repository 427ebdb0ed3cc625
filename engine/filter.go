package engine

import (
	"context"

	"github.com/s3sync/s3sync/catalog"
)

// pageFilter changes a page of kind before plan sees it (leaves objects out, counts them).
type pageFilter func(kind catalog.Kind, p catalog.Page) catalog.Page

// filterCatalog returns cat with every page it reads, by Scan, ScanChanged or ScanNew, passed
// through filter, keeping the optional interfaces plan looks for (DeltaCatalog, Reconnector).
// The key limit and the shards are such filters.
func filterCatalog(cat Catalog, filter pageFilter) Catalog {
	base := filtered{cat: cat, filter: filter}
	dc, delta := cat.(DeltaCatalog)
	rc, reconnects := cat.(Reconnector)
	switch {
	case delta && reconnects:
		return filteredDeltaReconnector{filteredDelta{base, dc}, rc}
	case delta:
		return filteredDelta{base, dc}
	case reconnects:
		return filteredReconnector{base, rc}
	}
	return base
}

type filtered struct {
	cat    Catalog
	filter pageFilter
}

func (c filtered) Scan(ctx context.Context, kind catalog.Kind, opts catalog.ScanOptions, fn func(catalog.Page) error) error {
	return c.cat.Scan(ctx, kind, opts, func(p catalog.Page) error { return fn(c.filter(kind, p)) })
}

func (c filtered) Count(ctx context.Context, kind catalog.Kind) (int64, error) {
	return c.cat.Count(ctx, kind)
}

type filteredDelta struct {
	filtered
	dc DeltaCatalog
}

func (c filteredDelta) Watermark(ctx context.Context, kind catalog.Kind) (catalog.Watermark, error) {
	return c.dc.Watermark(ctx, kind)
}

func (c filteredDelta) ScanChanged(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	return c.dc.ScanChanged(ctx, kind, since, pageSize, func(p catalog.Page) error { return fn(c.filter(kind, p)) })
}

func (c filteredDelta) ScanNew(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	return c.dc.ScanNew(ctx, kind, since, pageSize, func(p catalog.Page) error { return fn(c.filter(kind, p)) })
}

type filteredReconnector struct {
	filtered
	rc Reconnector
}

func (c filteredReconnector) Reconnect(ctx context.Context) error { return c.rc.Reconnect(ctx) }

type filteredDeltaReconnector struct {
	filteredDelta
	rc Reconnector
}

func (c filteredDeltaReconnector) Reconnect(ctx context.Context) error { return c.rc.Reconnect(ctx) }
