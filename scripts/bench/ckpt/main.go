// Command ckpt does the benchmark's checkpoint and database work that s3sync's own commands
// cannot time on their own:
//
//	ckpt build  --from PLANNED.db --out BIG.db --objects N --done-pct 99 ...
//	    a checkpoint of N synthetic media objects, done-pct of them done (status updates in
//	    batches of --batch, the copy engine's default), with the buckets of PLANNED.db, and the
//	    first --upload pending objects present in the source bucket, so that
//	    `s3sync copy --resume` on it has something to copy;
//	ckpt read   --pg-url URL --database DB [--cpuprofile FILE]
//	    plan's database half alone: every kind scanned page by page, nothing written;
//	ckpt plan   --pg-url URL --database DB --out NEW.db [--cpuprofile FILE]
//	    engine.Plan, as `s3sync plan` runs it, under the profiler.
//
// Each prints one JSON line of figures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ckpt build|read [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "read":
		err = read(os.Args[2:], false)
	case "plan":
		err = read(os.Args[2:], true)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ckpt:", err)
		os.Exit(1)
	}
}

func emit(v map[string]any) { _ = json.NewEncoder(os.Stdout).Encode(v) }

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	from := fs.String("from", "", "a planned checkpoint whose bucket metadata to take")
	out := fs.String("out", "", "checkpoint to create (replaced)")
	n := fs.Int("objects", 1_000_000, "objects")
	donePct := fs.Float64("done-pct", 99, "percent of objects marked done, spread evenly")
	mergeBatch := fs.Int("merge-batch", 20000, "objects per Merge transaction")
	batch := fs.Int("batch", 500, "status updates per Apply transaction (the copy engine flushes 500)")
	endpoint := fs.String("endpoint", "", "S3 endpoint of the source bucket")
	access := fs.String("access-key", "", "")
	secret := fs.String("secret-key", "", "")
	bucket := fs.String("bucket", "", "source bucket to put the first pending objects in")
	upload := fs.Int("upload", 20, "pending objects to put in the source bucket")
	_ = fs.Parse(args)
	if *from == "" || *out == "" {
		return fmt.Errorf("build: need --from and --out")
	}
	tmpl, err := checkpoint.Open(*from, checkpoint.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	meta := map[string]string{}
	for _, k := range []string{"source", "destination", "planned_at"} {
		if meta[k], err = tmpl.GetMeta(k); err != nil {
			return err
		}
	}
	tmpl.Close()
	os.Remove(*out)
	db, err := checkpoint.Open(*out, checkpoint.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	for k, v := range meta {
		if err := db.SetMeta(k, v); err != nil {
			return err
		}
	}

	obj := func(i int) checkpoint.Object {
		id := int64(110_000_000_000_000_000) + int64(i)*1024
		key := fmt.Sprintf("bench/resume/%d.bin", id)
		return checkpoint.Object{Kind: "media_attachments", RecordID: id, Attachment: "file", Style: "original",
			Candidates: []string{key, "cache/" + key}, Size: 4096, ContentType: "application/octet-stream"}
	}
	isDone := func(i int) bool { return float64(i%1000) < *donePct*10 }

	start := time.Now()
	buf := make([]checkpoint.Object, 0, *mergeBatch)
	for i := 0; i < *n; i++ {
		buf = append(buf, obj(i))
		if len(buf) == *mergeBatch || i == *n-1 {
			if _, _, err := db.Merge(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	mergeSecs := time.Since(start).Seconds()

	start = time.Now()
	ups := make([]checkpoint.Update, 0, *batch)
	applied := 0
	var pending []checkpoint.Object
	for i := 0; i < *n; i++ {
		if !isDone(i) {
			if len(pending) < *upload {
				pending = append(pending, obj(i))
			}
			continue
		}
		o := obj(i)
		ups = append(ups, checkpoint.Update{ID: o.ID(), Status: checkpoint.Done, Bytes: o.Size, SourceKey: o.Candidates[0], Attempts: 1})
		if len(ups) == *batch {
			if err := db.Apply(ups); err != nil {
				return err
			}
			applied += len(ups)
			ups = ups[:0]
		}
	}
	if err := db.Apply(ups); err != nil {
		return err
	}
	applied += len(ups)
	applySecs := time.Since(start).Seconds()
	if err := db.SetMeta("copy_runs", "1"); err != nil {
		return err
	}

	if *bucket != "" && len(pending) > 0 {
		c, err := storage.New(storage.Config{Endpoint: *endpoint, Bucket: *bucket, AccessKey: *access, SecretKey: *secret, PathStyle: true})
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, o := range pending {
			body := io.LimitReader(rand.NewChaCha8([32]byte{byte(rng.Uint32())}), o.Size)
			if err := c.Put(context.Background(), o.Candidates[0], body, o.Size, storage.PutOptions{ContentType: o.ContentType}); err != nil {
				return err
			}
		}
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	emit(map[string]any{
		"objects": *n, "merge_seconds": mergeSecs, "merge_objects_per_s": float64(*n) / mergeSecs,
		"updates": applied, "update_batch": *batch, "apply_seconds": applySecs, "updates_per_s": float64(applied) / applySecs,
		"file_bytes": fi.Size(),
	})
	return nil
}

func read(args []string, plan bool) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	pgURL := fs.String("pg-url", os.Getenv("S3SYNC_TEST_PG_URL"), "PostgreSQL URL")
	database := fs.String("database", "", "database")
	out := fs.String("out", "", "plan: checkpoint to create (replaced)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	_ = fs.Parse(args)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	u, err := url.Parse(*pgURL)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(u.Port())
	pw, _ := u.User.Password()
	cfg := catalog.DBConfig{Host: u.Hostname(), Port: port, User: u.User.Username(), Password: pw, Database: *database, SSLMode: "disable"}
	ctx := context.Background()
	start := time.Now()
	r, err := catalog.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	var rows, objs int64
	if plan {
		os.Remove(*out)
		db, err := checkpoint.Open(*out, checkpoint.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		sums, err := engine.Plan(ctx, r, db, engine.PlanOptions{})
		if err != nil {
			return err
		}
		for _, s := range sums {
			rows += s.Records
			objs += s.Objects
		}
	}
	for _, k := range catalog.AllKinds {
		if plan {
			break
		}
		err := r.Scan(ctx, k, catalog.ScanOptions{}, func(p catalog.Page) error {
			rows += int64(p.Records)
			objs += int64(len(p.Objects))
			return nil
		})
		if err != nil && !isNoTable(err) {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	emit(map[string]any{"rows": rows, "objects": objs, "seconds": secs, "rows_per_s": float64(rows) / secs, "objects_per_s": float64(objs) / secs})
	return nil
}

func isNoTable(err error) bool { return errors.Is(err, catalog.ErrNoTable) }
