package engine

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// runPool runs work on every item produce sends, from workers goroutines (at least one), and
// returns when produce and every work call have returned. It is the one worker pool of the
// engine; copy, verify, verify --public and fix-acl all run theirs through it.
//
// The shape is restic's ParallelList: one producer feeds an unbuffered channel and closes it
// when it returns, the workers range over it, and every send selects on the pool's context,
// so a producer never blocks on workers that have stopped. send returns false once that
// context is done; the producer should then return. The first error of produce or work
// cancels the context produce and work were given, and is returned; a producer or worker
// blocked in a request sees that at once. With no error, runPool returns ctx's error, so a
// cancelled run never looks complete.
//
// runPool owns the goroutines it starts: they have all ended when it returns.
func runPool[T any](ctx context.Context, workers int, produce func(ctx context.Context, send func(T) bool) error, work func(ctx context.Context, item T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	items := make(chan T)
	send := func(item T) bool {
		if gctx.Err() != nil {
			return false // select picks at random among ready cases: hand out nothing more
		}
		select {
		case items <- item:
			return true
		case <-gctx.Done():
			return false
		}
	}
	g.Go(func() error {
		defer close(items)
		return produce(gctx, send)
	})
	for range max(workers, 1) {
		g.Go(func() error {
			for item := range items {
				if err := work(gctx, item); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// sendEach is a producer for runPool that sends the items of a slice in order.
func sendEach[T any](items []T) func(context.Context, func(T) bool) error {
	return func(_ context.Context, send func(T) bool) error {
		for _, item := range items {
			if !send(item) {
				return nil
			}
		}
		return nil
	}
}
