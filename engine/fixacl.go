package engine

import (
	"context"
	"sync"

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
	Retries     int      // retries of a PutObjectAcl that is throttled or fails: 0 = 10, negative = none
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
// with an error. A PutObjectAcl the provider throttles or fails (5xx) is retried
// (defaultRetry) before it counts as an error.
func FixACL(ctx context.Context, db *checkpoint.DB, dst ACLSetter, opts FixACLOptions) (FixACLSummary, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 16
	}
	var (
		mu  sync.Mutex
		sum FixACLSummary
	)
	produce := func(ctx context.Context, send func(checkpoint.Object) bool) error {
		return db.Each(checkpoint.Filter{Kinds: opts.Kinds, Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
			if !send(o) {
				return ctx.Err()
			}
			return nil
		})
	}
	err := runPool(ctx, conc, produce, func(ctx context.Context, o checkpoint.Object) error {
		acl, private := opts.ACL, false
		if o.Private && opts.PrivateACL != "" {
			acl, private = opts.PrivateACL, true
		}
		key := o.DestKey()
		_, err := requestRetry(opts.Retries).do(ctx, func() error { return dst.PutACL(ctx, key, acl) })
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if storage.IsBucketWide(err) || storage.IsACLUnsupported(err) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
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
		return nil
	})
	return sum, err
}
