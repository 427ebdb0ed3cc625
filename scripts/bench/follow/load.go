package main

import (
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// The generated media_attachments rows, as Mastodon 4.7 writes them: Snowflake-like ids
// (milliseconds << 16 | sequence, Mastodon's timestamp_id) rising with created_at over the two
// years before the load; 12 % videos (video/mp4, 1–30 MB, type 2), the rest image/jpeg
// (30–500 KB, type 0); file_meta as Paperclip stores it (an image's or a video's); 40 % remote
// (remote_url set, no shortcode), 60 % local (remote_url empty, a shortcode); 2.5 % not attached to
// a status; a blurhash on every row, a description on one in five; no thumbnail.
// $1..$2 = the sequence numbers i, $3 + i*$4 = the row's time in Unix milliseconds, $5 = the
// number of accounts.
const insertMedia = `
INSERT INTO media_attachments (id, account_id, status_id, type, file_file_name, file_content_type,
  file_file_size, file_updated_at, file_meta, file_storage_schema_version, remote_url, shortcode,
  blurhash, description, processing, created_at, updated_at)
SELECT g.id,
  1 + (g.i * 2654435761) % $5::bigint,
  CASE WHEN g.i % 40 = 0 THEN NULL ELSE g.id + 7 END,
  CASE WHEN g.video THEN 2 ELSE 0 END,
  substr(g.h, 1, 16) || g.ext,
  CASE WHEN g.video THEN 'video/mp4' ELSE 'image/jpeg' END,
  CASE WHEN g.video THEN 1000000 + (g.i * 7919) % 29000000 ELSE 30000 + (g.i * 7919) % 470000 END,
  g.ts,
  (CASE WHEN g.video THEN '` + videoMeta + `' ELSE '` + imageMeta + `' END)::json,
  1,
  CASE WHEN g.remote THEN 'https://files.instance' || (g.i % 5000) || '.example/media_attachments/files/' ||
    substr(g.p, 1, 3) || '/' || substr(g.p, 4, 3) || '/' || substr(g.p, 7, 3) || '/' ||
    substr(g.p, 10, 3) || '/' || substr(g.p, 13, 3) || '/' || substr(g.p, 16, 3) ||
    '/original/' || substr(g.h, 17, 16) || g.ext ELSE '' END,
  CASE WHEN g.remote THEN NULL ELSE substr(md5('shortcode' || g.i), 1, 20) END,
  'UKO2' || substr(g.h, 9, 24),
  CASE WHEN g.i % 5 = 0 THEN 'A photo of the harbour at dusk, boats moored along the quay' END,
  2, g.ts, g.ts
FROM (SELECT s.*, lpad(s.id::text, 18, '0') AS p FROM (
  SELECT i, ((($3::bigint + i * $4::bigint) << 16) | (i & 65535)) AS id, md5(i::text) AS h,
    i % 100 < 12 AS video, (i * 7) % 10 < 4 AS remote,
    CASE WHEN i % 100 < 12 THEN '.mp4' ELSE '.jpg' END AS ext,
    to_timestamp(($3::bigint + i * $4::bigint) / 1000.0) AT TIME ZONE 'UTC' AS ts
  FROM generate_series($1::bigint, $2::bigint) AS i) s) g`

const imageMeta = `{"original":{"width":1280,"height":960,"size":"1280x960","aspect":1.3333333333333333},"small":{"width":640,"height":480,"size":"640x480","aspect":1.3333333333333333},"focus":{"x":0.0,"y":0.0}}`

const videoMeta = `{"length":"0:00:14.05","duration":14.05,"fps":30,"size":"1280x720","width":1280,"height":720,"aspect":1.7777777777777777,"audio_encode":"aac (LC) (mp4a / 0x6134706D)","audio_bitrate":"44100 Hz","audio_channels":"stereo","original":{"width":1280,"height":720,"frame_rate":"30/1","duration":14.05,"bitrate":1205400},"small":{"width":640,"height":360,"size":"640x360","aspect":1.7777777777777777}}`

// accounts: 1 % suspended (catalog's select list looks the owner up for each row it returns).
const insertAccounts = `
INSERT INTO accounts (id, username, domain, suspended_at)
SELECT i, 'user' || i, CASE WHEN i % 10 < 7 THEN 'instance' || (i % 5000) || '.example' END,
  CASE WHEN i % 100 = 0 THEN now() AT TIME ZONE 'UTC' END
FROM generate_series(1, $1::bigint) AS i`

const twoYears = 2 * 365 * 24 * time.Hour

// load fills the database: the schema fixture, accounts, media_attachments (secondary indexes
// and primary key dropped first and built again afterwards, as a bulk load does), then VACUUM
// (ANALYZE), which also sets the hint bits and the visibility map a long-lived table has.
func (b *bench) load() {
	schema, err := os.ReadFile(b.schema)
	must(err)
	t := time.Now()
	_, err = b.db.PgConn().Exec(b.ctx, string(schema)).ReadAll()
	must(err)
	b.exec("SET maintenance_work_mem = '1GB'")

	// Save and drop media_attachments' indexes.
	var pkey string
	must(b.db.QueryRow(b.ctx, `SELECT conname FROM pg_constraint WHERE conrelid = 'media_attachments'::regclass AND contype = 'p'`).Scan(&pkey))
	rows, err := b.db.Query(b.ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'media_attachments' AND indexname <> $1 ORDER BY indexname`, pkey)
	must(err)
	var names, defs []string
	for rows.Next() {
		var n, d string
		must(rows.Scan(&n, &d))
		names, defs = append(names, n), append(defs, d)
	}
	must(rows.Err())
	for _, n := range names {
		b.exec("DROP INDEX " + pgx.Identifier{n}.Sanitize())
	}
	b.exec("ALTER TABLE media_attachments DROP CONSTRAINT " + pgx.Identifier{pkey}.Sanitize())

	b.exec(insertAccounts, b.accounts)
	b.loadTimes = append(b.loadTimes, phase{fmt.Sprintf("schema and %d accounts", b.accounts), time.Since(t)})

	t = time.Now()
	// The two years end a minute before now, so that the uploads follow adds come after.
	b.step = twoYears.Milliseconds() / b.rows
	b.base = time.Now().Add(-twoYears - time.Minute).UnixMilli()
	for lo := int64(1); lo <= b.rows; lo += b.chunk {
		hi := min(lo+b.chunk-1, b.rows)
		b.exec(insertMedia, lo, hi, b.base, b.step, b.accounts)
		logf("inserted media_attachments %d..%d (%s)", lo, hi, time.Since(t).Round(time.Second))
	}
	b.loadTimes = append(b.loadTimes, phase{fmt.Sprintf("INSERT … SELECT FROM generate_series, %d rows in transactions of %d", b.rows, b.chunk), time.Since(t)})

	t = time.Now()
	b.exec("ALTER TABLE media_attachments ADD CONSTRAINT " + pgx.Identifier{pkey}.Sanitize() + " PRIMARY KEY (id)")
	for _, d := range defs {
		b.exec(d)
	}
	b.loadTimes = append(b.loadTimes, phase{fmt.Sprintf("primary key and %d indexes of the fixture", len(defs)), time.Since(t)})
	logf("indexes built (%s)", time.Since(t).Round(time.Second))

	t = time.Now()
	b.exec("VACUUM (ANALYZE) accounts")
	b.exec("VACUUM (ANALYZE) media_attachments")
	b.loadTimes = append(b.loadTimes, phase{"VACUUM (ANALYZE)", time.Since(t)})
	logf("vacuumed (%s)", time.Since(t).Round(time.Second))
}

// follow is what happens on the server between two passes: nNew uploads (rows past the
// watermark, timed in the last 20 seconds) and nChanged replaced files (a new file name and
// file_updated_at on rows spread over the whole id range).
func (b *bench) follow() {
	t := time.Now()
	now := time.Now().UTC().UnixMilli()
	const gap = 100 // ms between the new uploads
	base := now - gap*(b.rows+b.nNew+1)
	b.exec(insertMedia, b.rows+1, b.rows+b.nNew, base, gap, b.accounts)
	tag, err := b.db.Exec(b.ctx, `UPDATE media_attachments
		SET file_file_name = substr(md5('replaced' || id), 1, 16) || '.jpg',
		    file_updated_at = now() AT TIME ZONE 'UTC', updated_at = now() AT TIME ZONE 'UTC'
		WHERE id IN (SELECT ((($1::bigint + i * $2::bigint) << 16) | (i & 65535))
		             FROM generate_series(1, $3::bigint, $4::bigint) AS i LIMIT $5)`,
		b.base, b.step, b.rows, max(b.rows/b.nChanged, 1), b.nChanged)
	must(err)
	if tag.RowsAffected() != b.nChanged {
		must(fmt.Errorf("updated %d rows, want %d", tag.RowsAffected(), b.nChanged))
	}
	logf("%d rows inserted and %d updated (%s)", b.nNew, b.nChanged, time.Since(t).Round(time.Millisecond))
}

func (b *bench) exec(sql string, args ...any) {
	_, err := b.db.Exec(b.ctx, sql, args...)
	if err != nil {
		must(fmt.Errorf("%.60s…: %w", sql, err))
	}
}
