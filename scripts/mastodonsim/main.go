// Command mastodonsim is what a running Mastodon does to its buckets, for `make demo-follow`:
// every --every it stores one new local image (a media_attachments record and its original and
// small objects), and with --replace it gives existing records a new file, as a re-processed
// upload does. It writes to the source bucket, or with --to destination to the destination
// bucket, as Mastodon does once .env.production points at the new bucket.
//
//	go run ./scripts/mastodonsim --config private/demo.ini --uploads 6 --every 1s --to source --replace 1
//
// It reads the s3sync config that scripts/gendata wrote ([pg.database], [s3.source],
// [s3.destination]) and computes the keys with catalog.Record.Objects, so they are exactly the
// keys s3sync plans. Like Paperclip, it uploads a record's objects before it commits the row.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/ini.v1"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/storage"
)

type options struct {
	config  string
	uploads int
	replace int
	every   time.Duration
	to      string
}

func main() {
	var o options
	flag.StringVar(&o.config, "config", "private/demo.ini", "s3sync config written by scripts/gendata")
	flag.IntVar(&o.uploads, "uploads", 5, "new media attachments to store")
	flag.IntVar(&o.replace, "replace", 0, "existing media attachments to give a new file")
	flag.DurationVar(&o.every, "every", time.Second, "wait between two actions")
	flag.StringVar(&o.to, "to", "", "bucket Mastodon writes to: source (before the switch) or destination (after)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "mastodonsim: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.to != "source" && o.to != "destination" {
		return fmt.Errorf("--to %q: want source or destination", o.to)
	}
	if o.uploads < 0 || o.replace < 0 || o.every < 0 {
		return errors.New("--uploads, --replace and --every must not be negative")
	}
	f, err := ini.Load(o.config)
	if err != nil {
		return err
	}
	dbc, err := dbConfig(f.Section("pg.database"))
	if err != nil {
		return err
	}
	bucket, err := bucketClient(f.Section("s3." + o.to))
	if err != nil {
		return err
	}
	defer bucket.Close()

	// The reader tells which Mastodon release's key layout the schema follows.
	reader, err := catalog.Open(ctx, dbc)
	if err != nil {
		return err
	}
	layout := reader.Layout()
	reader.Close()
	cc, err := dbc.ConnConfig()
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", dbc, err)
	}
	defer conn.Close(context.Background())

	replaced, err := replaceable(ctx, conn, o.replace)
	if err != nil {
		return err
	}
	s := &sim{conn: conn, bucket: bucket, layout: layout, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	// The replacements are spread evenly among the uploads.
	total := o.uploads + len(replaced)
	for i := 0; i < total; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(o.every):
			}
		}
		r := len(replaced) * (i + 1) / total
		if r > len(replaced)*i/total {
			err = s.replace(ctx, replaced[r-1])
		} else {
			err = s.upload(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dbConfig reads [pg.database].
func dbConfig(s *ini.Section) (catalog.DBConfig, error) {
	port, err := s.Key("port").Int()
	if err != nil && s.HasKey("port") {
		return catalog.DBConfig{}, fmt.Errorf("[pg.database] port: %w", err)
	}
	return catalog.DBConfig{
		Host:     s.Key("host").String(),
		Port:     port,
		User:     s.Key("user").String(),
		Password: s.Key("password").String(),
		Database: s.Key("database").String(),
		SSLMode:  s.Key("sslmode").String(),
	}, nil
}

// bucketClient opens the bucket of an [s3.source] or [s3.destination] section, with its ACL:
// Mastodon writes its uploads public-read unless told otherwise.
func bucketClient(s *ini.Section) (*storage.Client, error) {
	if s.Key("bucket").String() == "" {
		return nil, fmt.Errorf("[%s] bucket: missing", s.Name())
	}
	return storage.New(storage.Config{
		Endpoint:  s.Key("endpoint_url").String(),
		Region:    s.Key("region").String(),
		Bucket:    s.Key("bucket").String(),
		AccessKey: s.Key("access_key").String(),
		SecretKey: s.Key("secret_key").String(),
		PathStyle: s.Key("path_style").MustBool(false),
		KeyPrefix: strings.Trim(s.Key("key_prefix").String(), "/"),
		ACL:       s.Key("acl").String(),
	})
}

// replaceable picks n local images among the existing media attachments.
func replaceable(ctx context.Context, conn *pgx.Conn, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	rows, err := conn.Query(ctx, `SELECT id FROM media_attachments
		WHERE remote_url = '' AND file_content_type IN ('image/jpeg', 'image/png') AND file_file_name IS NOT NULL
		ORDER BY random() LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	if len(ids) < n {
		return nil, fmt.Errorf("--replace %d: only %d local images in media_attachments", n, len(ids))
	}
	return ids, nil
}

type sim struct {
	conn   *pgx.Conn
	bucket *storage.Client
	layout catalog.Layout
	rng    *rand.Rand
}

// newFile makes up an image file as a user uploads it: a random name, a type and a size.
func (s *sim) newFile() catalog.File {
	name := make([]byte, 8)
	if _, err := crand.Read(name); err != nil {
		panic(err)
	}
	ct, ext := "image/jpeg", ".jpg"
	if s.rng.IntN(3) == 0 {
		ct, ext = "image/png", ".png"
	}
	return catalog.File{Attachment: "file", FileName: hex.EncodeToString(name) + ext, ContentType: ct,
		Size: 20_000 + s.rng.Int64N(60_000), SchemaVersion: 1}
}

// upload stores a new media attachment: its objects, then its row with the next id.
func (s *sim) upload(ctx context.Context) error {
	var id int64
	if err := s.conn.QueryRow(ctx, "SELECT COALESCE(max(id), 0) + 1 FROM media_attachments").Scan(&id); err != nil {
		return err
	}
	file := s.newFile()
	where, err := s.store(ctx, id, file)
	if err != nil {
		return err
	}
	_, err = s.conn.Exec(ctx, `INSERT INTO media_attachments (id, type, status_id, file_file_name, file_content_type,
		file_file_size, file_updated_at, remote_url, file_storage_schema_version, created_at, updated_at)
		VALUES ($1, 0, $1, $2, $3, $4, now() AT TIME ZONE 'UTC', '', 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`,
		id, file.FileName, file.ContentType, file.Size)
	if err != nil {
		return fmt.Errorf("insert media attachment %d: %w", id, err)
	}
	fmt.Printf("mastodonsim: new upload    media_attachments %d (%s, %s) → %s %s\n",
		id, file.ContentType, kib(file.Size), s.bucket.Bucket(), where)
	return nil
}

// replace gives record id a new file: its objects, then the row's new file name and
// file_updated_at. The old objects stay where they are.
func (s *sim) replace(ctx context.Context, id int64) error {
	file := s.newFile()
	where, err := s.store(ctx, id, file)
	if err != nil {
		return err
	}
	_, err = s.conn.Exec(ctx, `UPDATE media_attachments SET file_file_name = $2, file_content_type = $3,
		file_file_size = $4, file_updated_at = now() AT TIME ZONE 'UTC', updated_at = now() AT TIME ZONE 'UTC' WHERE id = $1`,
		id, file.FileName, file.ContentType, file.Size)
	if err != nil {
		return fmt.Errorf("replace the file of media attachment %d: %w", id, err)
	}
	fmt.Printf("mastodonsim: replaced file media_attachments %d (%s, %s) → %s %s\n",
		id, file.ContentType, kib(file.Size), s.bucket.Bucket(), where)
	return nil
}

// store uploads every object of record id's file under the key s3sync computes for it, and
// describes them: the original's key and the other styles ("…/original/x.jpg + small").
func (s *sim) store(ctx context.Context, id int64, file catalog.File) (string, error) {
	rec := catalog.Record{Kind: catalog.MediaAttachments, ID: id, Layout: s.layout, Files: []catalog.File{file}}
	objs, _, invalid := rec.Objects()
	if len(invalid) > 0 || len(objs) == 0 {
		return "", fmt.Errorf("media attachment %d: no objects (%v)", id, invalid)
	}
	where := objs[0].Key()
	for _, obj := range objs {
		size := obj.Size
		if obj.Style != catalog.StyleOriginal {
			size = 3_000 + s.rng.Int64N(10_000) // a thumbnail
		}
		body := io.LimitReader(rand.NewChaCha8(s.seed()), size)
		err := s.bucket.Put(ctx, obj.Key(), body, size, storage.PutOptions{ContentType: obj.ContentType,
			CacheControl: "public, max-age=315576000, immutable"})
		if err != nil {
			return "", fmt.Errorf("upload %s: %w", obj.Key(), err)
		}
		if obj.Style != catalog.StyleOriginal {
			where += " + " + obj.Style
		}
	}
	return where, nil
}

func (s *sim) seed() (seed [32]byte) {
	for i := range seed {
		seed[i] = byte(s.rng.Uint32())
	}
	return seed
}

func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }
