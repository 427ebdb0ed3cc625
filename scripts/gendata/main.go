// Command gendata builds a Mastodon-like sandbox: a PostgreSQL database with the Mastodon
// schema and generated records of every kind, a source bucket holding the objects those
// records reference (a few left out on purpose, a few stored at a drifted key), an empty
// destination bucket, and an s3sync config pointing at all three. `make demo` uses it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/storage"
)

type options struct {
	pgURL, database, schema   string
	endpoint, access, secret  string
	sourceBucket, destBucket  string
	records, missing, drifted int
	largeMiB                  int
	seed                      uint64
	configOut, checkpoint     string
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
	flag.IntVar(&o.records, "records", 300, "records to generate, across the kinds")
	flag.IntVar(&o.missing, "missing", 5, "objects to leave out of the source bucket")
	flag.IntVar(&o.drifted, "drifted", 3, "objects to store under their fallback key instead")
	flag.IntVar(&o.largeMiB, "large-mib", 20, "size of one large video (multipart), 0 = none")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.StringVar(&o.configOut, "config-out", "private/demo.ini", "s3sync config to write")
	flag.StringVar(&o.checkpoint, "checkpoint", "private/demo.db", "checkpoint path written into the config")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "gendata: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.pgURL == "" || o.endpoint == "" {
		return fmt.Errorf("need --pg-url and --s3-endpoint (or source .tools/test-env.sh)")
	}
	rng := rand.New(rand.NewPCG(o.seed, 42))
	db, err := createDatabase(ctx, o)
	if err != nil {
		return err
	}
	if err := insertRecords(ctx, db, o.records, rng); err != nil {
		return err
	}

	src, err := bucket(ctx, o, o.sourceBucket)
	if err != nil {
		return err
	}
	if _, err := bucket(ctx, o, o.destBucket); err != nil {
		return err
	}
	stats, err := fillSource(ctx, db, src, o, rng)
	if err != nil {
		return err
	}
	if err := writeConfig(o, db); err != nil {
		return err
	}
	fmt.Printf("gendata: database %s: %d records; bucket %s: %d objects (%d left out as missing, %d under a fallback key, one of %d MiB)\n",
		o.database, o.records, o.sourceBucket, stats.uploaded, stats.missing, stats.drifted, o.largeMiB)
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

// insertRecords writes a Mastodon-like mix: mostly media attachments, then accounts, preview
// cards and emoji, a few site uploads; local and remote; some attachments without a file.
func insertRecords(ctx context.Context, c catalog.DBConfig, n int, rng *rand.Rand) error {
	conn, err := connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var b pgx.Batch
	hex := func() string { return fmt.Sprintf("%016x", rng.Uint64()) }
	id := int64(109_000_000_000_000_000) // snowflake-sized ids, as on a real server
	domain := func() any {
		if rng.IntN(3) == 0 {
			return "remote.example"
		}
		return nil
	}
	for i := 0; i < n; i++ {
		id += 1 + rng.Int64N(1<<20)
		switch r := rng.IntN(100); {
		case r < 55: // media attachment: image, gifv, video or audio
			typ, ext, ct := 0, "jpg", "image/jpeg"
			switch rng.IntN(10) {
			case 0:
				typ, ext, ct = 1, "mp4", "video/mp4"
			case 1:
				typ, ext, ct = 2, "mp4", "video/mp4"
			case 2:
				typ, ext, ct = 4, "mp3", "audio/mpeg"
			}
			remote := ""
			if rng.IntN(3) == 0 {
				remote = "https://remote.example/media/" + hex()
			}
			var thumb any
			if typ == 4 && rng.IntN(2) == 0 {
				thumb = hex() + ".jpg"
			}
			b.Queue(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, file_file_size, remote_url,
				file_storage_schema_version, thumbnail_file_name, thumbnail_content_type, thumbnail_storage_schema_version)
				VALUES ($1,$2,$3,$4,$5,$6,1,$7,'image/jpeg',1)`, id, typ, hex()+"."+ext, ct, 1000+rng.IntN(60000), remote, thumb)
		case r < 75: // account with avatar and maybe a header, some animated
			avatar, ct := hex()+".png", "image/png"
			if rng.IntN(5) == 0 {
				avatar, ct = hex()+".gif", "image/gif"
			}
			var header any
			if rng.IntN(2) == 0 {
				header = hex() + ".jpg"
			}
			b.Queue(`INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, avatar_file_size,
				header_file_name, header_content_type, avatar_storage_schema_version, header_storage_schema_version)
				VALUES ($1,$2,$3,$4,$5,$6,$7,'image/jpeg',1,1)`, id, "user"+hex(), domain(), avatar, ct, 500+rng.IntN(8000), header)
		case r < 90: // preview card, some without an image
			var img any
			if rng.IntN(4) != 0 {
				img = hex() + ".jpg"
			}
			b.Queue(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_file_size, image_storage_schema_version)
				VALUES ($1,$2,$3,'image/jpeg',$4,1)`, id, "https://news.example/"+hex(), img, 2000+rng.IntN(30000))
		case r < 98: // custom emoji
			b.Queue(`INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type, image_file_size, image_storage_schema_version)
				VALUES ($1,$2,$3,$4,'image/png',$5,1)`, id, "blob"+hex(), domain(), hex()+".png", 300+rng.IntN(4000))
		default: // site upload
			b.Queue(`INSERT INTO site_uploads (id, var, file_file_name, file_content_type, file_file_size)
				VALUES ($1,$2,$3,'image/png',$4)`, id, fmt.Sprintf("thumbnail_%d", i), hex()+".png", 5000+rng.IntN(5000))
		}
	}
	if err := conn.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	return nil
}

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
	for _, k := range keys {
		if err := c.Delete(ctx, k); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type fillStats struct{ uploaded, missing, drifted int }

// fillSource uploads every object the database references, under its computed key, except a
// few left out (missing) and a few stored under their first fallback key (drifted).
func fillSource(ctx context.Context, dbc catalog.DBConfig, src *storage.Client, o options, rng *rand.Rand) (fillStats, error) {
	var st fillStats
	r, err := catalog.Open(ctx, dbc)
	if err != nil {
		return st, err
	}
	defer r.Close()
	var objs []catalog.Object // a demo-sized dataset: holding it is fine
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
	}
	return st, nil
}

func isNoTable(err error) bool { return errors.Is(err, catalog.ErrNoTable) }

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
