// Command gendata builds a Mastodon-like sandbox: a PostgreSQL database with the Mastodon
// schema and generated records of every kind, a source bucket holding the objects those
// records reference (a few left out on purpose, a few stored at a drifted key), an empty
// destination bucket (publicly readable through a bucket policy under the demo profile, so
// that `s3sync check` passes), and an s3sync config pointing at all three.
//
// `make demo` uses it with the default profile, "demo". `make bench` uses the others:
//
//	mastodon  a Mastodon-like mix: originals log-normal around 250 KB, smalls around 40 KB,
//	          avatars and emoji of a few KB, about 2 % videos of 5–30 MB
//	small     every object under 64 KB
//	large     every record a video whose original is --large-mib MiB
//
// --bulk loads the records with COPY (a million records in seconds, for plan benchmarks),
// --objects=false stops after the database, and --keys-out writes the uploaded keys, one a
// line, for peers such as `rclone copy --files-from`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"math/rand/v2"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog"
)

type options struct {
	pgURL, database, schema   string
	endpoint, access, secret  string
	sourceBucket, destBucket  string
	records, missing, drifted int
	largeMiB                  int
	seed                      uint64
	configOut, checkpoint     string

	profile   string // demo, mastodon, small, large
	mediaOnly bool   // every record a media attachment
	bulk      bool   // COPY instead of INSERT
	objects   bool   // fill the source bucket
	workers   int    // parallel uploads (profiles other than demo)
	keysOut   string // file for the uploaded keys, "" = none
}

func main() {
	var o options
	flag.StringVar(&o.pgURL, "pg-url", os.Getenv("S3SYNC_TEST_PG_URL"), "admin PostgreSQL URL (a role that may create databases)")
	flag.StringVar(&o.database, "database", "s3sync_demo", "database to (re)create")
	flag.StringVar(&o.schema, "schema", "catalog/testdata/mastodon_modern.sql", "Mastodon schema file")
	flag.StringVar(&o.endpoint, "s3-endpoint", os.Getenv("S3SYNC_TEST_S3_ENDPOINT"), "S3 endpoint URL")
	flag.StringVar(&o.access, "s3-access-key", os.Getenv("S3SYNC_TEST_S3_ACCESS_KEY"), "S3 access key")
	flag.StringVar(&o.secret, "s3-secret-key", os.Getenv("S3SYNC_TEST_S3_SECRET_KEY"), "S3 secret key")
	flag.StringVar(&o.sourceBucket, "source-bucket", "demo-source", "source bucket to (re)fill")
	flag.StringVar(&o.destBucket, "destination-bucket", "demo-destination", "destination bucket to empty")
	flag.IntVar(&o.records, "records", 300, "records to generate, across the kinds (the scale)")
	flag.IntVar(&o.missing, "missing", 5, "objects to leave out of the source bucket")
	flag.IntVar(&o.drifted, "drifted", 3, "objects to store under their fallback key instead")
	flag.IntVar(&o.largeMiB, "large-mib", 20, "demo: size of one large video (multipart), 0 = none; large profile: size of every video")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.StringVar(&o.configOut, "config-out", "private/demo.ini", "s3sync config to write")
	flag.StringVar(&o.checkpoint, "checkpoint", "private/demo.db", "checkpoint path written into the config")
	flag.StringVar(&o.profile, "profile", "demo", "object mix: demo, mastodon, small (all < 64 KB) or large (videos of --large-mib)")
	flag.BoolVar(&o.mediaOnly, "media-only", false, "make every record a media attachment (plan benchmarks)")
	flag.BoolVar(&o.bulk, "bulk", false, "load records with COPY in chunks (fast at a million records)")
	flag.BoolVar(&o.objects, "objects", true, "fill the source bucket; false: database and config only")
	flag.IntVar(&o.workers, "upload-workers", 8, "parallel uploads (not for the demo profile, which uploads in order)")
	flag.StringVar(&o.keysOut, "keys-out", "", "write the uploaded source keys to this file, one a line")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "gendata: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.pgURL == "" || (o.endpoint == "" && o.objects) {
		return fmt.Errorf("need --pg-url and --s3-endpoint (or source .tools/test-env.sh)")
	}
	prof, ok := profiles[o.profile]
	if !ok {
		return fmt.Errorf("--profile %q: want demo, mastodon, small or large", o.profile)
	}
	if o.profile == "large" && o.largeMiB <= 0 {
		return fmt.Errorf("--profile large needs --large-mib > 0")
	}
	if o.profile == "large" {
		o.mediaOnly = true
	}
	largeMiB = o.largeMiB
	rng := rand.New(rand.NewPCG(o.seed, 42))
	start := time.Now()
	db, err := createDatabase(ctx, o)
	if err != nil {
		return err
	}
	if err := insertRecords(ctx, db, o, prof, rng); err != nil {
		return err
	}
	if o.profile != "demo" || !o.objects {
		fmt.Printf("gendata: database %s: %d records (%s profile) in %s\n", o.database, o.records, o.profile, time.Since(start).Round(time.Millisecond))
	}
	if !o.objects {
		if err := writeConfig(o, db); err != nil {
			return err
		}
		fmt.Printf("gendata: config written to %s (no objects uploaded)\n", o.configOut)
		return nil
	}

	src, err := bucket(ctx, o, o.sourceBucket)
	if err != nil {
		return err
	}
	if _, err := bucket(ctx, o, o.destBucket); err != nil {
		return err
	}
	if o.profile == "demo" {
		// Visitors read a Mastodon destination: make it public, so `s3sync check` passes on the demo.
		if err := makePublic(ctx, o, o.destBucket); err != nil {
			return err
		}
	}
	start = time.Now()
	stats, err := fillSource(ctx, db, src, o, prof, rng)
	if err != nil {
		return err
	}
	if err := writeConfig(o, db); err != nil {
		return err
	}
	if o.profile == "demo" {
		fmt.Printf("gendata: database %s: %d records; bucket %s: %d objects (%d left out as missing, %d under a fallback key, one of %d MiB)\n",
			o.database, o.records, o.sourceBucket, stats.uploaded, stats.missing, stats.drifted, o.largeMiB)
	} else {
		fmt.Printf("gendata: bucket %s: %d objects, %s in %s (%d left out as missing, %d under a fallback key)\n",
			o.sourceBucket, stats.uploaded, mib(stats.bytes), time.Since(start).Round(time.Millisecond), stats.missing, stats.drifted)
		fmt.Printf("gendata: sizes: mean %s, median %s; %.1f%% under 64 KB, %.1f%% of 5 MB or more\n",
			kib(stats.mean()), kib(stats.median()), stats.share(func(n int64) bool { return n < 64<<10 }),
			stats.share(func(n int64) bool { return n >= 5<<20 }))
	}
	fmt.Printf("gendata: expect %d done and %d missing after a full copy\n", stats.uploaded, stats.missing)
	fmt.Printf("gendata: config written to %s\n", o.configOut)
	return nil
}

// createDatabase drops and recreates the database and loads the schema.
func createDatabase(ctx context.Context, o options) (catalog.DBConfig, error) {
	admin, err := pgx.Connect(ctx, o.pgURL)
	if err != nil {
		return catalog.DBConfig{}, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	ident := pgx.Identifier{o.database}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return catalog.DBConfig{}, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return catalog.DBConfig{}, err
	}
	u, err := url.Parse(o.pgURL)
	if err != nil {
		return catalog.DBConfig{}, err
	}
	cfg := admin.Config()
	pw, _ := u.User.Password()
	dbc := catalog.DBConfig{Host: cfg.Host, Port: int(cfg.Port), User: cfg.User, Password: pw, Database: o.database, SSLMode: "disable"}
	schema, err := os.ReadFile(o.schema)
	if err != nil {
		return dbc, err
	}
	conn, err := connect(ctx, dbc)
	if err != nil {
		return dbc, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(schema)); err != nil {
		return dbc, fmt.Errorf("load schema %s: %w", o.schema, err)
	}
	return dbc, nil
}

func connect(ctx context.Context, c catalog.DBConfig) (*pgx.Conn, error) {
	cc, err := c.ConnConfig()
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
}

// writeConfig writes an s3sync config for the sandbox (private/ is git-ignored).
func writeConfig(o options, db catalog.DBConfig) error {
	if err := os.MkdirAll(filepath.Dir(o.configOut), 0o700); err != nil {
		return err
	}
	s3 := func(name, bucket, extra string) string {
		return fmt.Sprintf("[%s]\naccess_key = %s\nsecret_key = %s\nendpoint_url = %s\nbucket = %s\nregion = us-east-1\npath_style = true\n%s\n",
			name, o.access, o.secret, o.endpoint, bucket, extra)
	}
	text := "; written by scripts/gendata for the demo sandbox (" + time.Now().UTC().Format(time.RFC3339) + ")\n\n" +
		s3("s3.source", o.sourceBucket, "") +
		s3("s3.destination", o.destBucket, "acl = public-read\n") +
		fmt.Sprintf("[pg.database]\nhost = %s\nport = %d\nuser = %s\npassword = %s\ndatabase = %s\nsslmode = disable\n\n",
			db.Host, db.Port, db.User, db.Password, db.Database) +
		fmt.Sprintf("[sync]\nconcurrency = 16\ncheckpoint = %s\nretries = 3\n", o.checkpoint)
	return os.WriteFile(o.configOut, []byte(text), 0o600)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }
