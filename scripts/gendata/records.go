package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog"
)

// row is one generated record: a table, its columns and their values.
type row struct {
	table string
	cols  []string
	vals  []any
}

// bulkChunk is how many records --bulk generates before copying them in.
const bulkChunk = 20000

// insertRecords writes o.records generated records: with INSERTs in one batch, or with --bulk
// through COPY, a chunk at a time so memory stays flat at a million records.
func insertRecords(ctx context.Context, c catalog.DBConfig, o options, p *profile, rng *rand.Rand) error {
	conn, err := connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	g := &generator{rng: rng, p: p, o: o, id: 109_000_000_000_000_000} // snowflake-sized ids, as on a real server

	if !o.bulk {
		var b pgx.Batch
		for i := 0; i < o.records; i++ {
			r := g.next(i)
			b.Queue(insertSQL(r), r.vals...)
		}
		if err := conn.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		return nil
	}
	byTable := map[string][][]any{}
	cols := map[string][]string{}
	flush := func() error {
		for table, rows := range byTable {
			if len(rows) == 0 {
				continue
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols[table], pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy into %s: %w", table, err)
			}
			byTable[table] = rows[:0]
		}
		return nil
	}
	for i := 0; i < o.records; i++ {
		r := g.next(i)
		cols[r.table] = r.cols
		byTable[r.table] = append(byTable[r.table], r.vals)
		if (i+1)%bulkChunk == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}

func insertSQL(r row) string {
	ph := make([]string, len(r.cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO " + r.table + " (" + strings.Join(r.cols, ", ") + ") VALUES (" + strings.Join(ph, ",") + ")"
}

// generator makes records one at a time from one random sequence.
type generator struct {
	rng *rand.Rand
	p   *profile
	o   options
	id  int64
}

func (g *generator) hex() string { return fmt.Sprintf("%016x", g.rng.Uint64()) }

func (g *generator) domain() any {
	if g.rng.IntN(3) == 0 {
		return "remote.example"
	}
	return nil
}

var (
	mediaCols   = []string{"id", "type", "file_file_name", "file_content_type", "file_file_size", "remote_url", "file_storage_schema_version", "thumbnail_file_name", "thumbnail_content_type", "thumbnail_storage_schema_version", "status_id"}
	accountCols = []string{"id", "username", "domain", "avatar_file_name", "avatar_content_type", "avatar_file_size", "header_file_name", "header_content_type", "avatar_storage_schema_version", "header_storage_schema_version"}
	cardCols    = []string{"id", "url", "image_file_name", "image_content_type", "image_file_size", "image_storage_schema_version"}
	emojiCols   = []string{"id", "shortcode", "domain", "image_file_name", "image_content_type", "image_file_size", "image_storage_schema_version"}
	siteCols    = []string{"id", "var", "file_file_name", "file_content_type", "file_file_size"}
)

// next returns record i. The demo profile draws exactly the sequence the demo has always
// drawn, so `make demo` keeps its numbers; the others draw sizes from their profile.
func (g *generator) next(i int) row {
	rng := g.rng
	g.id += 1 + rng.Int64N(1<<20)
	id := g.id
	if g.p.name == "demo" {
		return g.demo(i, id)
	}
	r := rng.IntN(100)
	if g.o.mediaOnly {
		r = 0
	}
	switch {
	case r < 55: // media attachment
		typ, ext, ct := 0, "jpg", "image/jpeg"
		switch t := g.p.mediaType(rng); t {
		case 1:
			typ, ext, ct = 1, "mp4", "video/mp4"
		case 2:
			typ, ext, ct = 2, "mp4", "video/mp4"
		case 4:
			typ, ext, ct = 4, "mp3", "audio/mpeg"
		}
		remote := ""
		if rng.IntN(3) == 0 {
			remote = "https://remote.example/media/" + g.hex()
		}
		var thumb any
		if typ == 4 && rng.IntN(2) == 0 {
			thumb = g.hex() + ".jpg"
		}
		size := g.p.original(rng, "media", typ)
		return row{"media_attachments", mediaCols, []any{id, typ, g.hex() + "." + ext, ct, size, remote, 1, thumb, "image/jpeg", 1, id}}
	case r < 75: // account with avatar and maybe a header, some animated
		avatar, ct := g.hex()+".png", "image/png"
		if rng.IntN(5) == 0 {
			avatar, ct = g.hex()+".gif", "image/gif"
		}
		var header any
		if rng.IntN(2) == 0 {
			header = g.hex() + ".jpg"
		}
		return row{"accounts", accountCols, []any{id, "user" + g.hex(), g.domain(), avatar, ct, g.p.original(rng, "avatar", 0), header, "image/jpeg", 1, 1}}
	case r < 90: // preview card, some without an image
		var img any
		if rng.IntN(4) != 0 {
			img = g.hex() + ".jpg"
		}
		return row{"preview_cards", cardCols, []any{id, "https://news.example/" + g.hex(), img, "image/jpeg", g.p.original(rng, "card", 0), 1}}
	case r < 98: // custom emoji
		return row{"custom_emojis", emojiCols, []any{id, "blob" + g.hex(), g.domain(), g.hex() + ".png", "image/png", g.p.original(rng, "emoji", 0), 1}}
	default: // site upload
		return row{"site_uploads", siteCols, []any{id, fmt.Sprintf("thumbnail_%d", i), g.hex() + ".png", "image/png", g.p.original(rng, "site", 0)}}
	}
}

// demo is the demo's record i: mostly media attachments, then accounts, preview cards and
// emoji, a few site uploads; local and remote; some attachments without a file. Do not change
// the order of the random draws: the demo's README output depends on it.
func (g *generator) demo(i int, id int64) row {
	rng := g.rng
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
			remote = "https://remote.example/media/" + g.hex()
		}
		var thumb any
		if typ == 4 && rng.IntN(2) == 0 {
			thumb = g.hex() + ".jpg"
		}
		name := g.hex() + "." + ext
		size := 1000 + rng.IntN(60000)
		return row{"media_attachments", mediaCols, []any{id, typ, name, ct, size, remote, 1, thumb, "image/jpeg", 1, id}}
	case r < 75: // account with avatar and maybe a header, some animated
		avatar, ct := g.hex()+".png", "image/png"
		if rng.IntN(5) == 0 {
			avatar, ct = g.hex()+".gif", "image/gif"
		}
		var header any
		if rng.IntN(2) == 0 {
			header = g.hex() + ".jpg"
		}
		user := "user" + g.hex()
		dom := g.domain()
		size := 500 + rng.IntN(8000)
		return row{"accounts", accountCols, []any{id, user, dom, avatar, ct, size, header, "image/jpeg", 1, 1}}
	case r < 90: // preview card, some without an image
		var img any
		if rng.IntN(4) != 0 {
			img = g.hex() + ".jpg"
		}
		u := "https://news.example/" + g.hex()
		size := 2000 + rng.IntN(30000)
		return row{"preview_cards", cardCols, []any{id, u, img, "image/jpeg", size, 1}}
	case r < 98: // custom emoji
		code := "blob" + g.hex()
		dom := g.domain()
		name := g.hex() + ".png"
		size := 300 + rng.IntN(4000)
		return row{"custom_emojis", emojiCols, []any{id, code, dom, name, "image/png", size, 1}}
	default: // site upload
		name := g.hex() + ".png"
		size := 5000 + rng.IntN(5000)
		return row{"site_uploads", siteCols, []any{id, fmt.Sprintf("thumbnail_%d", i), name, "image/png", size}}
	}
}

// profile is a size model: what the database records for originals, and what the other
// styles (which Mastodon does not size in the database) weigh in the bucket.
type profile struct {
	name string
	// video, gifv and audio are the shares of media attachments, per thousand.
	video, gifv, audio int
	// original returns the size of an original of the given class ("media", "avatar", "card",
	// "emoji", "site") and media type.
	original func(rng *rand.Rand, class string, mediaType int) int
	// style returns the size of a non-original style or of an original the database does not size.
	style func(rng *rand.Rand, o catalog.Object) int64
}

func (p *profile) mediaType(rng *rand.Rand) int {
	switch n := rng.IntN(1000); {
	case n < p.video:
		return 1
	case n < p.video+p.gifv:
		return 2
	case n < p.video+p.gifv+p.audio:
		return 4
	}
	return 0
}

// logNormal draws around median with the given sigma, clamped to [lo, hi].
func logNormal(rng *rand.Rand, median, sigma float64, lo, hi int) int {
	v := int(median * math.Exp(sigma*rng.NormFloat64()))
	return min(max(v, lo), hi)
}

const kb, mb = 1000, 1000 * 1000

var largeMiB int // the large profile's video size, set from --large-mib

var profiles = map[string]*profile{
	"demo": {name: "demo"},
	"mastodon": {
		name: "mastodon", video: 60, gifv: 30, audio: 10,
		original: func(rng *rand.Rand, class string, typ int) int {
			switch class {
			case "media":
				switch typ {
				case 1:
					return 5*mb + rng.IntN(25*mb)
				case 2:
					return logNormal(rng, 800*kb, 0.5, 50*kb, 4*mb)
				case 4:
					return logNormal(rng, 2*mb, 0.5, 100*kb, 4*mb)
				}
				return logNormal(rng, 250*kb, 0.7, 4*kb, 4*mb)
			case "avatar":
				return logNormal(rng, 5*kb, 0.6, 500, 400*kb)
			case "card":
				return logNormal(rng, 30*kb, 0.5, 1*kb, 400*kb)
			case "emoji":
				return logNormal(rng, 3*kb, 0.5, 200, 100*kb)
			}
			return logNormal(rng, 20*kb, 0.5, 1*kb, 400*kb)
		},
		style: func(rng *rand.Rand, o catalog.Object) int64 {
			switch {
			case o.Kind == catalog.MediaAttachments:
				return int64(logNormal(rng, 40*kb, 0.4, 2*kb, 400*kb)) // small, thumbnail
			case o.Attachment == "header":
				return int64(logNormal(rng, 60*kb, 0.5, 2*kb, 2*mb))
			case o.Kind == catalog.Accounts, o.Kind == catalog.CustomEmojis:
				return int64(logNormal(rng, 4*kb, 0.5, 200, 100*kb)) // static
			}
			return int64(logNormal(rng, 10*kb, 0.5, 500, 400*kb))
		},
	},
	"small": {
		name: "small", gifv: 50,
		original: func(rng *rand.Rand, _ string, _ int) int {
			return logNormal(rng, 16*kb, 0.8, 200, 64*1024-1)
		},
		style: func(rng *rand.Rand, _ catalog.Object) int64 {
			return int64(logNormal(rng, 16*kb, 0.8, 200, 64*1024-1))
		},
	},
	"large": {
		name: "large", video: 1000,
		original: func(rng *rand.Rand, _ string, _ int) int { return largeMiB << 20 },
		style: func(rng *rand.Rand, _ catalog.Object) int64 {
			return int64(logNormal(rng, 20*kb, 0.3, 1*kb, 64*kb))
		},
	},
}
