package engine

import (
	"fmt"

	"github.com/s3sync/s3sync/checkpoint"
)

// aclFor is the ACL override for o: c.privateACL for an object of a suspended account, else ""
// (the destination's ACL).
func (c *copier) aclFor(o checkpoint.Object) string {
	if o.Private {
		return c.privateACL
	}
	return ""
}

// produceLocalFirst sends the pending objects, local media first: a first pass over the
// pending index sends those with Remote unset (uploads only this server holds), a second
// pass the cached copies of remote media, which Mastodon can fetch again from their origin.
// Each pass walks the whole pending index and skips the other half; decoding a skipped object
// costs far less than copying one, so no separate index is kept. opts.Limit counts both
// passes together. It returns when the work runs out, send refuses an object (the run is
// stopping), or the checkpoint fails.
func produceLocalFirst(db *checkpoint.DB, opts CopyOptions, send func(checkpoint.Object) bool) error {
	var sent int64
	for _, remote := range []bool{false, true} {
		more, err := producePass(db, opts, send, remote, &sent)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// producePass sends the pending objects whose Remote equals remote, in ID order; more is false
// when the run must not go on (limit reached, or send refused).
func producePass(db *checkpoint.DB, opts CopyOptions, send func(checkpoint.Object) bool, remote bool, sent *int64) (more bool, err error) {
	const page = 256
	after := ""
	for {
		objs, err := db.NextPending(after, opts.Kinds, page)
		if err != nil {
			return false, fmt.Errorf("checkpoint: %w", err)
		}
		if len(objs) == 0 {
			return true, nil
		}
		for _, o := range objs {
			after = o.ID()
			if o.Remote != remote {
				continue
			}
			if opts.Limit > 0 && *sent >= opts.Limit {
				return false, nil
			}
			if !send(o) {
				return false, nil
			}
			*sent++
		}
	}
}
