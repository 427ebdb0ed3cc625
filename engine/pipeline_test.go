package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/s3sync/s3sync/catalog"
)

// pagesCatalog serves n pages of one record each (LastID = page number), then fails with
// scanErr if set.
type pagesCatalog struct {
	n       int
	scanErr error
	stopped error // what fn returned when it stopped the scan
}

func (c *pagesCatalog) Scan(_ context.Context, _ catalog.Kind, _ catalog.ScanOptions, fn func(catalog.Page) error) error {
	for i := 1; i <= c.n; i++ {
		if err := fn(catalog.Page{Records: 1, LastID: int64(i)}); err != nil {
			c.stopped = err
			return err
		}
	}
	return c.scanErr
}

func (c *pagesCatalog) Count(context.Context, catalog.Kind) (int64, error) { return int64(c.n), nil }

func TestScanPipelinedCommitsEveryPageInOrder(t *testing.T) {
	cat := &pagesCatalog{n: 50}
	var got []int64
	err := scanPipelined(context.Background(), cat, catalog.MediaAttachments, catalog.ScanOptions{}, func(p catalog.Page) error {
		got = append(got, p.LastID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("committed %d pages, want 50", len(got))
	}
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("page %d committed as %d: out of order", i+1, id)
		}
	}
}

func TestScanPipelinedCommitErrorStopsTheScan(t *testing.T) {
	boom := errors.New("disk full")
	cat := &pagesCatalog{n: 50}
	var committed []int64
	err := scanPipelined(context.Background(), cat, catalog.MediaAttachments, catalog.ScanOptions{}, func(p catalog.Page) error {
		if p.LastID == 5 {
			return boom
		}
		committed = append(committed, p.LastID)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the commit's error", err)
	}
	if len(committed) != 4 || committed[3] != 4 {
		t.Fatalf("committed %v, want pages 1-4 and nothing after the failed page", committed)
	}
	if cat.stopped == nil {
		t.Fatal("the scan read every page: a failed commit must stop it")
	}
}

func TestScanPipelinedScanErrorAfterAllCommits(t *testing.T) {
	lost := errors.New("connection lost")
	cat := &pagesCatalog{n: 7, scanErr: lost}
	var last int64
	err := scanPipelined(context.Background(), cat, catalog.MediaAttachments, catalog.ScanOptions{}, func(p catalog.Page) error {
		last = p.LastID
		return nil
	})
	if !errors.Is(err, lost) {
		t.Fatalf("err = %v, want the scan's error", err)
	}
	// The caller resumes after the last committed page: every page read must be committed
	// by the time the error reaches it.
	if last != 7 {
		t.Fatalf("last committed page %d when the scan error arrived, want 7", last)
	}
}
