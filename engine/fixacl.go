package engine

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// ACLSetter sets the canned ACL of an existing destination object.
type ACLSetter interface {
	// PutACL sets acl on the object at key; a missing object gives an error for which
	// storage.IsNotFound holds.
	PutACL(ctx context.Context, key, acl string) error
}

var _ ACLSetter = (*storage.Client)(nil)

// FixACLOptions says which ACLs FixACL writes.
type FixACLOptions struct {
	Kinds       []string // kinds to fix, empty = all
	Concurrency int      // PutObjectAcl requests in flight, 0 = 16
	ACL         string   // canned ACL for every object; must not be empty
	// PrivateACL is the ACL for objects of suspended accounts (checkpoint.Object.Private),
	// "" = ACL for them too.
	PrivateACL string
	// OnVanished and OnError, when set, are called (one at a time) with the destination key
	// of an object that no longer exists, and of one whose ACL could not be set.
	OnVanished func(key string)
	OnError    func(key string, err error)
}

// FixACLSummary is what FixACL did.
type FixACLSummary struct {
	Set      int64 // objects whose ACL was written
	Private  int64 // of those, written with PrivateACL
	Vanished int64 // done objects no longer at the destination: counted, not an error
	Errors   int64 // objects whose ACL could not be set for another reason
}

// FixACL writes the ACL policy onto every done object of the checkpoint (PutObjectAcl), for
// destinations filled by other tools or before the policy changed; it never copies and never
// changes the checkpoint. An object that vanished from the destination is counted in Vanished;
// another per-object error in Errors. Only cancellation and errors every object would get
// (storage.IsBucketWide, storage.IsACLUnsupported: ACLs disabled, bad credentials) stop it
// with an error.
func FixACL(ctx context.Context, db *checkpoint.DB, dst ACLSetter, opts FixACLOptions) (FixACLSummary, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 16
	}
	var (
		mu  sync.Mutex
		sum FixACLSummary
	)
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan checkpoint.Object)
	g.Go(func() error {
		defer close(work)
		return db.Each(checkpoint.Filter{Kinds: opts.Kinds, Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
			select {
			case work <- o:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for i := 0; i < conc; i++ {
		g.Go(func() error {
			for o := range work {
				acl, private := opts.ACL, false
				if o.Private && opts.PrivateACL != "" {
					acl, private = opts.PrivateACL, true
				}
				key := o.DestKey()
				err := dst.PutACL(gctx, key, acl)
				if err != nil && gctx.Err() != nil {
					return gctx.Err()
				}
				if storage.IsBucketWide(err) || storage.IsACLUnsupported(err) {
					return err
				}
				mu.Lock()
				switch {
				case err == nil:
					sum.Set++
					if private {
						sum.Private++
					}
				case storage.IsNotFound(err):
					sum.Vanished++
					if opts.OnVanished != nil {
						opts.OnVanished(key)
					}
				default:
					sum.Errors++
					if opts.OnError != nil {
						opts.OnError(key, err)
					}
				}
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return sum, err
}
