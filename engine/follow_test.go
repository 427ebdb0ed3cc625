package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
)

// outageCatalog is a DeltaCatalog whose first scans lose the connection (a database restarting
// while s3sync follows); the first one that succeeds finds 20 new records, the others none.
type outageCatalog struct {
	mu         sync.Mutex
	lost       int // ScanNew calls still to fail with a lost connection
	next       int64
	reconnects int
}

func (c *outageCatalog) Count(context.Context, catalog.Kind) (int64, error) { return 0, nil }

func (c *outageCatalog) Scan(context.Context, catalog.Kind, catalog.ScanOptions, func(catalog.Page) error) error {
	return nil
}

func (c *outageCatalog) Watermark(context.Context, catalog.Kind) (catalog.Watermark, error) {
	return catalog.Watermark{}, nil
}

func (c *outageCatalog) ScanChanged(ctx context.Context, kind catalog.Kind, since catalog.Watermark, pageSize int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	return c.ScanNew(ctx, kind, since, pageSize, fn)
}

func (c *outageCatalog) ScanNew(_ context.Context, kind catalog.Kind, since catalog.Watermark, _ int, fn func(catalog.Page) error) (catalog.Watermark, error) {
	c.mu.Lock()
	if c.lost > 0 {
		c.lost--
		c.mu.Unlock()
		return since, fmt.Errorf("read: %w", catalog.ErrConnection)
	}
	if c.next == 20 { // Mastodon went quiet
		c.mu.Unlock()
		return since, nil
	}
	c.next = 20
	c.mu.Unlock()
	page := catalog.Page{Records: 20, LastID: 20}
	for id := int64(1); id <= 20; id++ {
		key := fmt.Sprintf("preview_cards/images/000/000/%03d/original/c.jpg", id)
		page.Objects = append(page.Objects, catalog.Object{Kind: kind, RecordID: id, Attachment: "image", Style: "original", Candidates: []string{key}})
	}
	if err := fn(page); err != nil {
		return since, err
	}
	since.MaxID = 20
	return since, nil
}

func (c *outageCatalog) Reconnect(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reconnects++
	return nil
}

// A database that goes away while s3sync follows costs passes, not the run: the passes copy
// what is pending, reconnect, and read again once it answers; nothing is skipped.
func TestFollowRidesOutADatabaseOutage(t *testing.T) {
	db := newDB(t)
	if err := db.SetWatermark(string(catalog.PreviewCards), catalog.FormatWatermark(catalog.Watermark{})); err != nil {
		t.Fatal(err)
	}
	src, dst := newFakeBucket(), newFakeBucket()
	for id := 1; id <= 20; id++ {
		src.objects[fmt.Sprintf("preview_cards/images/000/000/%03d/original/c.jpg", id)] = fakeObject{body: []byte(fmt.Sprint(id))}
	}
	cat := &outageCatalog{lost: 3}
	sum, err := Follow(context.Background(), cat, db, src, dst, FollowOptions{
		Interval: 5 * time.Millisecond, Until: 2 * time.Second,
		Plan: PlanOptions{Kinds: []catalog.Kind{catalog.PreviewCards}},
		Copy: fastOptions(),
	})
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if cat.reconnects != 3 {
		t.Errorf("%d reconnections, want one per lost pass (3)", cat.reconnects)
	}
	counts, _ := db.Counts()
	done := counts.Sum(checkpoint.Done).Objects
	if done != 20 || done != sum.Done || done != int64(len(dst.objects)) || counts.Sum(checkpoint.Pending).Objects != 0 {
		t.Errorf("done %d (summary %d), at the destination %d, counts %v", done, sum.Done, len(dst.objects), counts)
	}
	if sum.Interrupted {
		t.Error("ended by --until, not interrupted")
	}
}

// The passes do not swallow what is not a lost connection: it ends Follow with the error.
func TestFollowStopsOnOtherPlanErrors(t *testing.T) {
	db := newDB(t)
	if err := db.SetWatermark(string(catalog.PreviewCards), "garbage"); err != nil {
		t.Fatal(err)
	}
	cat := &brokenCatalog{}
	_, err := Follow(context.Background(), cat, db, newFakeBucket(), newFakeBucket(), FollowOptions{
		Interval: 10 * time.Millisecond, Until: time.Second,
		Plan: PlanOptions{Kinds: []catalog.Kind{catalog.PreviewCards}},
		Copy: fastOptions(),
	})
	if err == nil {
		t.Fatal("Follow went on after a plan error that is not a lost connection")
	}
}

// brokenCatalog fails every read with an error that is not a lost connection.
type brokenCatalog struct{ outageCatalog }

func (*brokenCatalog) Scan(context.Context, catalog.Kind, catalog.ScanOptions, func(catalog.Page) error) error {
	return fmt.Errorf("catalog: column missing")
}

// Following is ready to stop after QuietToStop quiet passes in a row only when one of them was
// a rescan: the quick passes do not look for replaced files.
func TestFollowReadyToStopNeedsARescan(t *testing.T) {
	for _, tc := range []struct {
		rescanEvery time.Duration
		wantReady   bool
	}{{time.Hour, false}, {20 * time.Millisecond, true}} {
		db := newDB(t)
		if err := db.SetWatermark(string(catalog.PreviewCards), catalog.FormatWatermark(catalog.Watermark{})); err != nil {
			t.Fatal(err)
		}
		cat := &outageCatalog{next: 20} // Mastodon is quiet
		ready, quiet := false, 0
		_, err := Follow(context.Background(), cat, db, newFakeBucket(), newFakeBucket(), FollowOptions{
			Interval: 5 * time.Millisecond, Until: 300 * time.Millisecond, RescanEvery: tc.rescanEvery,
			Plan: PlanOptions{Kinds: []catalog.Kind{catalog.PreviewCards}},
			Copy: fastOptions(),
			OnPass: func(p FollowPass) {
				if !p.Final { // the final pass always rescans
					ready = ready || p.State.ReadyToStop
					quiet = max(quiet, p.State.QuietPasses)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if quiet < QuietToStop || ready != tc.wantReady {
			t.Errorf("rescan every %s: up to %d quiet passes, ready to stop %v; want ready %v", tc.rescanEvery, quiet, ready, tc.wantReady)
		}
	}
}
