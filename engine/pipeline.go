package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/s3sync/s3sync/catalog"
)

// errCommitFailed stops a pipelined scan after a commit failed; the commit's error is returned.
var errCommitFailed = errors.New("commit failed")

// scanPipelined is cat.Scan with commit running one page behind in a goroutine of its own, so
// that the database read of the next page overlaps the checkpoint write of this one (on two
// cores plan runs at the speed of the slower half instead of the sum of both). At most two
// pages wait for their commit. It returns only after every page handed to commit was
// committed or a commit failed, so the caller sees exactly the state a synchronous commit
// would have left: a commit's error stops the scan and is returned in preference to the
// scan's, and no page after a failed commit is committed.
func scanPipelined(ctx context.Context, cat Catalog, kind catalog.Kind, opts catalog.ScanOptions, commit func(catalog.Page) error) error {
	pages := make(chan catalog.Page, 1)
	var (
		mu        sync.Mutex
		commitErr error
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return commitErr
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range pages {
			if failed() != nil {
				continue // drain: the scan stops at its next page
			}
			if err := commit(p); err != nil {
				mu.Lock()
				commitErr = err
				mu.Unlock()
			}
		}
	}()
	err := cat.Scan(ctx, kind, opts, func(p catalog.Page) error {
		if failed() != nil {
			return errCommitFailed
		}
		select {
		case pages <- p:
			return nil
		case <-done: // cannot happen before close(pages); kept for safety
			return errCommitFailed
		}
	})
	close(pages)
	<-done
	if commitErr != nil {
		return commitErr
	}
	return err
}
