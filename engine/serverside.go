package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/text"
	"github.com/s3sync/s3sync/storage"
)

// ServerSideCopier copies objects inside the provider, from the source bucket to the
// destination bucket, so that no body passes through s3sync. NewServerSide builds one.
type ServerSideCopier interface {
	// Head returns what the source knows of key; storage.IsNotFound holds when it is absent.
	Head(ctx context.Context, key string) (storage.ObjectInfo, error)
	// Copy copies srcKey of the source to dstKey at the destination with opts' headers, or
	// fails and leaves nothing behind. size is the source's size, from Head.
	Copy(ctx context.Context, srcKey, dstKey string, size int64, opts storage.PutOptions) error
}

// NewServerSide returns the ServerSideCopier from src to dst (CopyObject, UploadPartCopy above
// storage.CopyThreshold).
func NewServerSide(src, dst *storage.Client) ServerSideCopier { return serverSide{src, dst} }

type serverSide struct{ src, dst *storage.Client }

func (s serverSide) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	return s.src.Head(ctx, key)
}

func (s serverSide) Copy(ctx context.Context, srcKey, dstKey string, size int64, opts storage.PutOptions) error {
	return s.dst.CopyFrom(ctx, s.src, srcKey, dstKey, size, opts)
}

// Server-side copy modes of `copy --server-side`.
const (
	ServerSideAuto   = "auto"   // probe once; stream when the provider refuses
	ServerSideAlways = "always" // server-side or nothing: a refusal stops the run
	ServerSideNever  = "never"  // always stream through s3sync
)

// probeObjects is how many pending objects ChooseServerSide looks at to find one that exists
// at the source.
const probeObjects = 64

// ChooseServerSide decides whether a copy runs server-side. In auto mode it probes once: it
// finds a pending object (of kinds, all when empty) that exists at the source and copies it
// server-side to a temporary key of the destination, which it removes. It returns the copier to
// use (nil: stream) and a sentence saying which mode runs and why. Only always mode returns
// an error, when server-side copy cannot work.
func ChooseServerSide(ctx context.Context, mode string, db *checkpoint.DB, kinds []string, src, dst *storage.Client) (ServerSideCopier, string, error) {
	switch mode {
	case ServerSideNever:
		return nil, "streamed (--server-side never)", nil
	case ServerSideAuto, ServerSideAlways, "":
	default:
		return nil, "", fmt.Errorf("--server-side %q is not auto, always or never", mode)
	}
	refuse := func(why string) (ServerSideCopier, string, error) {
		if mode == ServerSideAlways {
			return nil, "", fmt.Errorf("server-side copy (--server-side always): %s", why)
		}
		return nil, "streamed: server-side copy not possible: " + why, nil
	}
	if !src.SameEndpoint(dst) {
		return refuse("source and destination are on different endpoints")
	}
	key, err := probeKey(ctx, db, kinds, src)
	if err != nil {
		return nil, "", err
	}
	if key == "" {
		if mode == ServerSideAlways {
			return NewServerSide(src, dst), "server-side (CopyObject; not probed: no pending object found at the source)", nil
		}
		return nil, fmt.Sprintf("streamed: server-side copy not probed: none of the first %d pending or done objects exists at the source", probeObjects), nil
	}
	attempts, err := probeRetry().do(ctx, func() error { return dst.ProbeCopy(ctx, src, key) })
	switch {
	case err == nil:
		return NewServerSide(src, dst), "server-side (CopyObject: no bytes pass through s3sync)", nil
	case ctx.Err() != nil:
		return nil, "", ctx.Err()
	case storage.IsRetryable(err):
		// Throttling or a server error is no verdict on server-side copy, and streaming would
		// meet the same trouble: stop and say so.
		return nil, "", fmt.Errorf("server-side copy probe: the provider kept failing (%d attempts), which says nothing about server-side copy: %s; try again later, or pass --server-side never to stream",
			attempts, text.OneLine(err.Error()))
	}
	return refuse("the provider refused a probe copy: " + text.OneLine(err.Error()))
}

// probeAttempts bounds the tries of each request of the server-side probe when the provider
// answers with throttling or a server error; probeBackoff is the first wait between them.
const probeAttempts = 5

const probeBackoff = 500 * time.Millisecond

// probeRetry is the retry policy of the probe's requests: fewer and shorter waits than a
// copy's, since the run waits for the probe before it starts.
func probeRetry() retryPolicy {
	return retryPolicy{retries: probeAttempts - 1, base: probeBackoff, max: 8 * probeBackoff}
}

// probeKey returns the first candidate key of the first pending objects that exists at the
// source, "" when none does.
func probeKey(ctx context.Context, db *checkpoint.DB, kinds []string, src *storage.Client) (string, error) {
	objs, err := db.NextPending("", kinds, probeObjects)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if len(objs) == 0 {
		// Nothing pending (copy --resume --follow on a finished copy): objects already copied
		// were at the source, and most still are. Best effort: an unreadable record there is
		// for the copy to meet, not the probe.
		objs = someDone(db, kinds, probeObjects)
	}
	for _, o := range objs {
		for _, key := range o.Candidates {
			_, err := probeRetry().do(ctx, func() error {
				_, err := src.Head(ctx, key)
				return err
			})
			switch {
			case err == nil:
				return key, nil
			case storage.IsNotFound(err):
				continue
			case ctx.Err() != nil:
				return "", ctx.Err()
			case storage.IsBucketWide(err):
				return "", err
			}
			break // some other error: try the next object
		}
	}
	return "", nil
}

// errEnough stops a walk of the checkpoint that has what it wants.
var errEnough = errors.New("enough")

// someDone returns up to n done objects of kinds (all when empty), with the key the copy read
// as their only candidate; fewer when the checkpoint cannot be read further.
func someDone(db *checkpoint.DB, kinds []string, n int) []checkpoint.Object {
	var out []checkpoint.Object
	// The walk ends at n (errEnough) or at a record it cannot read: either way, what was found
	// is enough to probe with.
	_ = db.Each(checkpoint.Filter{Kinds: kinds, Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
		if o.Found || o.SourceKey == "" {
			return nil // not at the source, or not known where
		}
		o.Candidates = []string{o.SourceKey}
		out = append(out, o)
		if len(out) >= n {
			return errEnough
		}
		return nil
	})
	return out
}

// copyServerSide is copyCandidates for a server-side copy: the first candidate that exists at
// the source (HEAD) is copied inside the provider to the object's DestKey.
// Like a streamed copy, it copies no original whose size the source and the database tell
// differently, and w (when set) bounds its time by the size.
func (c *copier) copyServerSide(ctx context.Context, o checkpoint.Object, w *watch) (string, int64, error) {
	for _, key := range o.Candidates {
		info, err := c.server.Head(ctx, key)
		if storage.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		if err := checkSize(o, key, info.Size); err != nil {
			return "", 0, err
		}
		if keep, err := c.keepsNewer(ctx, o, info); err != nil {
			return "", 0, err
		} else if keep {
			return "", 0, errKeptNewer
		}
		if w != nil {
			w.expect(info.Size, false)
		}
		opts := storage.PutOptions{
			ContentType:        info.ContentType,
			CacheControl:       info.CacheControl,
			ContentDisposition: info.ContentDisposition,
			ACL:                c.aclFor(o),
		}
		if opts.ContentType == "" {
			opts.ContentType = o.ContentType // a server-side copy has no body to sniff
		}
		if opts.CacheControl == "" {
			opts.CacheControl = catalog.CacheControl
		}
		if !c.noContentMD5 {
			opts.ContentMD5 = etagMD5(info.ETag)
		}
		c.trackUploads(&opts, o)
		if err := c.server.Copy(ctx, key, o.DestKey(), info.Size, opts); err != nil {
			return "", 0, err
		}
		return key, info.Size, nil
	}
	return "", 0, fmt.Errorf("%w under any of: %s", errAbsent, strings.Join(o.Candidates, ", "))
}
