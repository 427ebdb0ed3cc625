package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// PublicReader fetches objects as a visitor would; *storage.Client implements it.
type PublicReader interface {
	Header
	// PublicGet GETs key anonymously from the bucket's public URL.
	PublicGet(ctx context.Context, key string) (storage.PublicResponse, error)
	// PublicURL is the URL PublicGet fetches.
	PublicURL(key string) string
}

var _ PublicReader = (*storage.Client)(nil)

// VerifyPublicOptions selects what VerifyPublic fetches.
type VerifyPublicOptions struct {
	Kinds       []string // kinds to check; empty = all
	Sample      int      // fetch this many done objects picked at random; 0 = all of them
	Concurrency int      // fetches in flight; 0 = 16
	Retries     int      // retries of a request that is throttled or fails: 0 = 10, negative = none
	// Public reports whether visitors must be able to read an object: false for the media
	// of suspended accounts under acl_policy = mastodon, which must not be readable.
	Public func(checkpoint.Object) bool
	// OnProblem, when set, is called (from one goroutine at a time) for every object a
	// visitor would see wrongly.
	OnProblem func(VerifyProblem)
}

// VerifyPublicSummary is what VerifyPublic found.
type VerifyPublicSummary struct {
	Checked  int64 // done objects fetched
	OK       int64 // of them, as visitors should see them
	Problems int64
	Private  int64 // of the checked, objects that must not be readable (and are not, when OK)
}

// VerifyPublic fetches done objects from the destination's public URL without credentials, as
// a visitor's browser does: a public object must answer 200 with the Content-Type and size the
// destination holds (an authenticated HEAD says which), an object that must stay private must
// not answer 200. It reports, and never changes the checkpoint: what a visitor sees wrongly is
// a matter of the bucket's policy, the provider's ACLs or the CDN, which copying again does
// not change. Only cancellation stops it.
func VerifyPublic(ctx context.Context, db *checkpoint.DB, dst PublicReader, opts VerifyPublicOptions) (VerifyPublicSummary, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 16
	}
	objs, err := verifySelection(db, VerifyOptions{Kinds: opts.Kinds, Sample: opts.Sample})
	if err != nil {
		return VerifyPublicSummary{}, err
	}
	var (
		mu  sync.Mutex
		sum VerifyPublicSummary
	)
	err = runPool(ctx, conc, sendEach(objs), func(gctx context.Context, o checkpoint.Object) error {
		public := opts.Public == nil || opts.Public(o)
		reason := publicProblem(gctx, requestRetry(opts.Retries), dst, o, public)
		if err := gctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sum.Checked++
		if !public {
			sum.Private++
		}
		if reason == "" {
			sum.OK++
			return nil
		}
		sum.Problems++
		if opts.OnProblem != nil {
			opts.OnProblem(VerifyProblem{Object: o, Key: dst.PublicURL(o.DestKey()), Reason: reason})
		}
		return nil
	})
	return sum, err
}

// publicProblem returns what a visitor would see wrongly of o, "" when nothing. Its requests
// are retried (retry) when they fail with throttling or a server error, the anonymous
// GET also when it is answered so (a CDN's 503): a busy provider is no problem of the object.
func publicProblem(ctx context.Context, retry retryPolicy, dst PublicReader, o checkpoint.Object, public bool) string {
	key := o.DestKey()
	var r storage.PublicResponse
	get := retry
	get.retryable = func(err error) bool {
		var answered *retryableAnswer
		return errors.As(err, &answered) || storage.IsRetryable(err)
	}
	_, err := get.do(ctx, func() error {
		var err error
		r, err = dst.PublicGet(ctx, key)
		if err == nil && storage.IsRetryableStatus(r.Status) {
			return &retryableAnswer{r.Status}
		}
		return err
	})
	var answered *retryableAnswer
	if errors.As(err, &answered) {
		err = nil // the last answer is judged as it is
	}
	switch {
	case err != nil:
		return err.Error()
	case !public && r.Status == http.StatusOK:
		return "readable by anyone, although its account is suspended (acl_policy = mastodon keeps it private)"
	case !public:
		return ""
	case r.Status != http.StatusOK:
		return fmt.Sprintf("HTTP %d for a visitor: the object is not public", r.Status)
	}
	var h storage.ObjectInfo
	_, err = retry.do(ctx, func() error {
		var err error
		h, err = dst.Head(ctx, key)
		return err
	})
	if err != nil {
		return "head at the destination: " + err.Error()
	}
	if r.Bytes != h.Size {
		return fmt.Sprintf("a visitor got %d bytes, the destination holds %d", r.Bytes, h.Size)
	}
	if h.ContentType != "" && r.ContentType != h.ContentType {
		return fmt.Sprintf("a visitor got Content-Type %q, the destination holds %q", r.ContentType, h.ContentType)
	}
	return ""
}

// retryableAnswer is an anonymous GET answered with a status worth another try (429, 5xx):
// for the retry policy an error, for the verdict an answer.
type retryableAnswer struct{ status int }

func (e *retryableAnswer) Error() string {
	return fmt.Sprintf("HTTP %d for a visitor", e.status)
}
