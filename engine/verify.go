package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"

	"golang.org/x/time/rate"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage"
)

// Header tells what a bucket knows about an object without its body; *storage.Client
// implements it.
type Header interface {
	// Head returns the object's size and headers; an absent object gives an error for which
	// storage.IsNotFound is true.
	Head(ctx context.Context, key string) (storage.ObjectInfo, error)
}

// VerifyOptions selects what Verify checks and how fast.
type VerifyOptions struct {
	Kinds       []string // kinds to check; empty = all
	Sample      int      // check this many done objects picked at random; 0 = all of them
	Concurrency int      // HEAD requests in flight; 0 = 16
	Rate        float64  // HEAD requests per second over both buckets; 0 = unlimited
	Retries     int      // retries of a HEAD that is throttled or fails: 0 = 10, negative = none
	// OnProblem, when set, is called (from one goroutine at a time) for every mismatch found.
	OnProblem func(VerifyProblem)
	// OnWarning, when set, is called (from one goroutine at a time) for every object whose
	// destination matches its source but whose source differs from what the database records.
	OnWarning func(VerifyProblem)
}

// VerifyProblem is a done object that is not right at the destination.
type VerifyProblem struct {
	Object checkpoint.Object
	Key    string // the destination key checked
	Reason string // e.g. "absent at the destination", "size 10, want 20"
}

// VerifySummary is what Verify found.
type VerifySummary struct {
	Checked  int64 // done objects checked
	OK       int64 // of them, right at the destination (warnings included)
	Problems int64 // of them, marked failed with the reason
	// Warnings counts objects copied faithfully whose source differs from the database (a size
	// other than *_file_size): copying again cannot change that, so they stay done.
	Warnings int64
}

// plainMD5 matches an ETag that is the MD5 of the body (not multipart, not SSE-KMS).
var plainMD5 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Verify judges each done object at the destination against its source, with HEAD: present,
// the source's size (the bytes written when the source is gone), the source's ETag when both
// are plain MD5s, and Content-Type and Cache-Control as the copy sets them (the source's, else
// the database's content type and Mastodon's Cache-Control). A mismatch marks the object
// failed with "verify: <reason>", so retry-failed copies it again. A faithful copy of a source
// whose size differs from the database's *_file_size is a warning (OnWarning, Warnings), not a
// failure: copying the same bytes again would not change it. Only checkpoint I/O and
// cancellation stop it; an S3 error on one object is that object's problem.
func Verify(ctx context.Context, db *checkpoint.DB, src, dst Header, opts VerifyOptions) (VerifySummary, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 16
	}
	var lim *rate.Limiter
	if opts.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(opts.Rate), max(1, int(opts.Rate)))
	}
	objs, err := verifySelection(db, opts)
	if err != nil {
		return VerifySummary{}, err
	}

	var (
		mu  sync.Mutex
		sum VerifySummary
	)
	err = runPool(ctx, conc, sendEach(objs), func(gctx context.Context, o checkpoint.Object) error {
		reason, warning, err := verifyObject(gctx, requestRetry(opts.Retries), lim, src, dst, o)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sum.Checked++
		if reason == "" {
			sum.OK++
			if warning != "" {
				sum.Warnings++
				if opts.OnWarning != nil {
					opts.OnWarning(VerifyProblem{Object: o, Key: o.DestKey(), Reason: warning})
				}
			}
			return nil
		}
		sum.Problems++
		err = db.Apply([]checkpoint.Update{{ID: o.ID(), Status: checkpoint.Failed, Error: "verify: " + reason,
			Bytes: o.Bytes, SourceKey: o.SourceKey}})
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if opts.OnProblem != nil {
			opts.OnProblem(VerifyProblem{Object: o, Key: o.DestKey(), Reason: reason})
		}
		return nil
	})
	return sum, err
}

// verifySelection returns the done objects to check: all, or a uniform sample (reservoir).
func verifySelection(db *checkpoint.DB, opts VerifyOptions) ([]checkpoint.Object, error) {
	var out []checkpoint.Object
	seen := 0
	err := db.Each(checkpoint.Filter{Kinds: opts.Kinds, Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
		seen++
		if opts.Sample <= 0 || len(out) < opts.Sample {
			out = append(out, o)
		} else if j := rand.IntN(seen); j < opts.Sample {
			out[j] = o
		}
		return nil
	})
	return out, err
}

// verifyObject returns why o is not right at the destination ("" when it is) and, for a right
// one, a warning when its source differs from the database; the error is only for
// cancellation. Each HEAD is retried (retry) when the provider throttles or fails, so
// that a busy provider makes no object look wrong.
func verifyObject(ctx context.Context, retry retryPolicy, lim *rate.Limiter, src, dst Header, o checkpoint.Object) (reason, warning string, err error) {
	head := func(h Header, key string) (info storage.ObjectInfo, err error) {
		_, err = retry.do(ctx, func() error {
			if lim != nil {
				if err := lim.Wait(ctx); err != nil {
					return err
				}
			}
			info, err = h.Head(ctx, key)
			return err
		})
		return info, err
	}
	key := o.DestKey()
	d, err := head(dst, key)
	switch {
	case ctx.Err() != nil:
		return "", "", ctx.Err()
	case storage.IsNotFound(err):
		return "absent at the destination", "", nil
	case err != nil:
		return "head at the destination: " + err.Error(), "", nil
	case o.Found:
		// Mastodon wrote it at the destination after the switch: that version is the one to
		// keep, whatever the source holds.
		return "", "", nil
	}
	srcKey := o.SourceKey // where the copy read it; the destination key may differ
	if srcKey == "" {
		srcKey = key
	}
	s, err := head(src, srcKey)
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	if dbSize := o.Size; o.Style == "original" && dbSize > 0 && d.Size != dbSize {
		warning = fmt.Sprintf("the source holds %d bytes, the database records %d", d.Size, dbSize)
	}
	if err != nil {
		// The source is gone or unreadable (Mastodon may have deleted it): what the
		// checkpoint knows is all there is to compare.
		if d.Size != o.Bytes {
			return fmt.Sprintf("size %d at the destination, %d copied", d.Size, o.Bytes), "", nil
		}
		if o.ContentType != "" && d.ContentType != o.ContentType {
			return fmt.Sprintf("Content-Type %q at the destination, want %q", d.ContentType, o.ContentType), "", nil
		}
		return "", warning, nil
	}
	if d.Size != s.Size {
		return fmt.Sprintf("size %d at the destination, %d at the source", d.Size, s.Size), "", nil
	}
	if plainMD5.MatchString(s.ETag) && plainMD5.MatchString(d.ETag) && s.ETag != d.ETag {
		return fmt.Sprintf("ETag %s at the destination, %s at the source", d.ETag, s.ETag), "", nil
	}
	wantCT := s.ContentType
	if wantCT == "" {
		wantCT = o.ContentType
	}
	if wantCT != "" && d.ContentType != wantCT {
		return fmt.Sprintf("Content-Type %q at the destination, want %q", d.ContentType, wantCT), "", nil
	}
	wantCC := s.CacheControl
	if wantCC == "" {
		wantCC = catalog.CacheControl
	}
	if d.CacheControl != wantCC {
		return fmt.Sprintf("Cache-Control %q at the destination, want %q", d.CacheControl, wantCC), "", nil
	}
	return "", warning, nil
}
