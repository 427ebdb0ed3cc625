package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/storage"
)

// bucket creates the bucket if needed and empties it.
func bucket(ctx context.Context, o options, name string) (*storage.Client, error) {
	c, err := storage.New(storage.Config{Endpoint: o.endpoint, Region: "us-east-1", Bucket: name,
		AccessKey: o.access, SecretKey: o.secret, PathStyle: true})
	if err != nil {
		return nil, err
	}
	if err := c.CreateBucket(ctx); err != nil {
		return nil, err
	}
	var keys []string
	if err := c.List(ctx, "", func(info storage.ListedObject) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.workers, 1))
	for _, k := range keys {
		g.Go(func() error { return c.Delete(gctx, k) })
	}
	return c, g.Wait()
}

type fillStats struct {
	uploaded, missing, drifted int
	bytes                      int64
	sizes                      []int64
	resized                    []catalog.Object // originals uploaded with another size than the database's, Size set to the real one
}

// recordSizes writes the real size of each resized original into its record, so that the
// database agrees with the bucket as Mastodon's would.
func recordSizes(ctx context.Context, dbc catalog.DBConfig, objs []catalog.Object) error {
	if len(objs) == 0 {
		return nil
	}
	conn, err := connect(ctx, dbc)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, obj := range objs {
		sql := "UPDATE " + pgx.Identifier{obj.Kind.Table()}.Sanitize() + " SET " +
			pgx.Identifier{obj.Attachment + "_file_size"}.Sanitize() + " = $1 WHERE id = $2"
		if _, err := conn.Exec(ctx, sql, obj.Size, obj.RecordID); err != nil {
			return fmt.Errorf("record the size of %s %d: %w", obj.Kind, obj.RecordID, err)
		}
	}
	return nil
}

func (s *fillStats) mean() int64 {
	if len(s.sizes) == 0 {
		return 0
	}
	return s.bytes / int64(len(s.sizes))
}

func (s *fillStats) median() int64 {
	if len(s.sizes) == 0 {
		return 0
	}
	sorted := slices.Clone(s.sizes)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

func (s *fillStats) share(f func(int64) bool) float64 {
	if len(s.sizes) == 0 {
		return 0
	}
	n := 0
	for _, v := range s.sizes {
		if f(v) {
			n++
		}
	}
	return 100 * float64(n) / float64(len(s.sizes))
}

// upload is one object to put into the source bucket.
type upload struct {
	key, contentType string
	size             int64
}

// fillSource uploads every object the database references, under its computed key, except a
// few left out (missing) and a few stored under their first fallback key (drifted).
func fillSource(ctx context.Context, dbc catalog.DBConfig, src *storage.Client, o options, p *profile, rng *rand.Rand) (fillStats, error) {
	var st fillStats
	r, err := catalog.Open(ctx, dbc)
	if err != nil {
		return st, err
	}
	defer r.Close()
	var objs []catalog.Object // a sandbox-sized dataset: holding it is fine
	for _, kind := range catalog.AllKinds {
		err := r.Scan(ctx, kind, catalog.ScanOptions{}, func(p catalog.Page) error {
			objs = append(objs, p.Objects...)
			return nil
		})
		if err != nil && !isNoTable(err) {
			return st, err
		}
	}
	rng.Shuffle(len(objs), func(i, j int) { objs[i], objs[j] = objs[j], objs[i] })
	if p.name == "demo" {
		st, err := fillDemo(ctx, src, o, objs, rng)
		if err != nil {
			return st, err
		}
		return st, recordSizes(ctx, dbc, st.resized)
	}

	var ups []upload
	for i, obj := range objs {
		key := obj.Candidates[0]
		switch {
		case i < o.missing:
			st.missing++
			continue
		case i < o.missing+o.drifted && len(obj.Candidates) > 1:
			key = obj.Candidates[1]
			st.drifted++
		}
		size := obj.Size
		if size <= 0 || obj.Style != "original" {
			size = p.style(keyRand(o.seed, key), obj)
		}
		ct := obj.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		ups = append(ups, upload{key, ct, size})
		st.sizes = append(st.sizes, size)
		st.bytes += size
	}
	// Largest first, so a long upload does not end the fill alone.
	slices.SortStableFunc(ups, func(a, b upload) int { return int(b.size>>16) - int(a.size>>16) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.workers, 1))
	for _, u := range ups {
		g.Go(func() error {
			body := io.LimitReader(rand.NewChaCha8(seed32(o.seed, u.key)), u.size)
			return src.Put(gctx, u.key, body, u.size, storage.PutOptions{ContentType: u.contentType,
				CacheControl: "public, max-age=315576000, immutable"})
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.uploaded = len(ups)
	return st, writeKeys(o.keysOut, ups)
}

// fillDemo is the demo's fill: in order, from the shared random sequence, so that sizes and
// contents stay what they have always been.
func fillDemo(ctx context.Context, src *storage.Client, o options, objs []catalog.Object, rng *rand.Rand) (fillStats, error) {
	var st fillStats
	var ups []upload
	large := o.largeMiB > 0
	for i, obj := range objs {
		key := obj.Candidates[0]
		switch {
		case i < o.missing:
			st.missing++
			continue
		case i < o.missing+o.drifted && len(obj.Candidates) > 1:
			key = obj.Candidates[1]
			st.drifted++
		}
		size := obj.Size
		if size <= 0 {
			size = 200 + rng.Int64N(20000)
		}
		if large && strings.HasPrefix(obj.ContentType, "video/") && obj.Style == "original" {
			size, large = int64(o.largeMiB)<<20, false
			resized := obj
			resized.Size = size
			st.resized = append(st.resized, resized)
		}
		ct := obj.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		err := src.Put(ctx, key, bytes.NewReader(body), size, storage.PutOptions{ContentType: ct,
			CacheControl: "public, max-age=315576000, immutable"})
		if err != nil {
			return st, err
		}
		st.uploaded++
		st.bytes += size
		st.sizes = append(st.sizes, size)
		ups = append(ups, upload{key, ct, size})
	}
	return st, writeKeys(o.keysOut, ups)
}

// writeKeys writes the uploaded keys, sorted, one a line; nothing when path is "".
func writeKeys(path string, ups []upload) error {
	if path == "" {
		return nil
	}
	keys := make([]string, len(ups))
	for i, u := range ups {
		keys[i] = u.key
	}
	slices.Sort(keys)
	return os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o644)
}

// keyRand is a random source for one key, independent of upload order.
func keyRand(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func seed32(seed uint64, key string) [32]byte {
	var s [32]byte
	h := fnv.New128a()
	h.Write([]byte(key))
	copy(s[:16], h.Sum(nil))
	for i := 0; i < 8; i++ {
		s[16+i] = byte(seed >> (8 * i))
	}
	return s
}

func isNoTable(err error) bool { return errors.Is(err, catalog.ErrNoTable) }
