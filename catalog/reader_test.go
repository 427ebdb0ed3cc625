package catalog_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
)

func sum(pages []catalog.Page) (records, skipped int, invalid []string) {
	for _, p := range pages {
		records += p.Records
		skipped += p.Skipped
		invalid = append(invalid, p.Invalid...)
	}
	return
}

func assertKeys(t *testing.T, kind catalog.Kind, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s keys:\n got %s\nwant %s", kind, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

const modernRows = `
INSERT INTO media_attachments (id, file_file_name, file_content_type, file_file_size, remote_url, type, file_meta,
    file_storage_schema_version, thumbnail_file_name, thumbnail_content_type, thumbnail_storage_schema_version) VALUES
 (1, 'img.jpg', 'image/jpeg', 1000, '', 0, '{"original":{"width":10},"small":{"width":4}}', 1, NULL, NULL, NULL),
 (2, 'vid.mp4', 'video/mp4', 2000, 'https://remote.example/v.mp4', 2, NULL, 1, NULL, NULL, NULL),
 (3, 'gif.mp4', 'video/mp4', 3000, 'https://remote.example/g.mp4', 1, NULL, NULL, NULL, NULL, NULL),
 (4, 'song.mp3', 'audio/mpeg', 4000, 'https://remote.example/s.mp3', 4, NULL, 1, 'cover.png', 'image/png', 1),
 (5, 'song2.mp3', 'audio/mpeg', 5000, '', 4, NULL, NULL, 'cover2.jpg', 'image/jpeg', NULL),
 (6, NULL, NULL, NULL, 'https://remote.example/never-fetched.jpg', 3, NULL, NULL, NULL, NULL, NULL),
 (7, '', NULL, NULL, '', 0, NULL, NULL, NULL, NULL, NULL),
 (8, 'nosmall.jpg', 'image/jpeg', 8000, '', 0, '{"original":{"width":10}}', 1, NULL, NULL, NULL),
 (9, 'мой файл.jpg', 'image/jpeg', 9000, '', 0, NULL, 1, NULL, NULL, NULL),
 (10, '../../../etc/passwd', 'image/jpeg', 1, '', 0, NULL, 1, NULL, NULL, NULL),
 (109876543210987654, 'snow.png', 'image/png', 10, 'https://remote.example/x.png', 0, '{"focus":{"x":0,"y":0}}', 1, NULL, NULL, NULL);

INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, avatar_file_size,
    header_file_name, header_content_type, header_file_size, avatar_storage_schema_version, header_storage_schema_version, suspended_at) VALUES
 (1, 'alice', NULL, 'a.gif', 'image/gif', 100, 'h.jpg', 'image/jpeg', 200, 1, 1, NULL),
 (2, 'bob', 'remote.example', 'b.png', 'image/png', 300, 'hb.gif', 'image/gif', 400, 1, NULL, NULL),
 (3, 'carol', NULL, NULL, NULL, NULL, 'hc.png', 'image/png', 500, NULL, NULL, now()),
 (4, 'dave', 'remote.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type, image_file_size, image_storage_schema_version) VALUES
 (1, 'blob', NULL, 'blob.png', 'image/png', 10, 1),
 (2, 'party', 'remote.example', 'party.gif', 'image/gif', 20, 1),
 (3, 'old', 'remote.example', 'old.png', 'image/png', 30, NULL);

INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_file_size, image_storage_schema_version) VALUES
 (1, 'https://a.example/', 'card.jpg', 'image/jpeg', 10, 1),
 (2, 'https://b.example/', 'old card.jpg', 'image/jpeg', 20, NULL),
 (3, 'https://c.example/', NULL, NULL, NULL, NULL);

INSERT INTO site_uploads (id, var, file_file_name, file_content_type, file_file_size) VALUES
 (1, 'thumbnail', 'thumb.jpg', 'image/jpeg', 10),
 (2, 'mascot', 'mascot.svg', 'image/svg+xml', 20),
 (3, 'favicon', 'fav.png', 'image/png', 30);

INSERT INTO preview_card_providers (id, domain, icon_file_name, icon_content_type, icon_file_size) VALUES
 (1, 'a.example', 'icon.ico', 'image/x-icon', 10);

INSERT INTO backups (id, user_id, dump_file_name, dump_content_type, dump_file_size, processed) VALUES
 (1, 1, 'archive-20240101.zip', 'application/zip', 5000000000, true),
 (2, 1, NULL, NULL, NULL, false);
`

func TestScanModern(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, modernRows)
	r := pgtest.Open(t, db.Config)

	tests := []struct {
		kind    catalog.Kind
		want    []string
		records int
		skipped int
		invalid []string
	}{
		{
			kind: catalog.MediaAttachments,
			want: []string{
				"1 file/original: media_attachments/files/000/000/001/original/img.jpg",
				"1 file/small: media_attachments/files/000/000/001/small/img.jpg",
				"2 file/original: cache/media_attachments/files/000/000/002/original/vid.mp4",
				"2 file/small: cache/media_attachments/files/000/000/002/small/vid.png",
				"3 file/original: media_attachments/files/000/000/003/original/gif.mp4",
				"3 file/small: media_attachments/files/000/000/003/small/gif.png",
				"4 file/original: cache/media_attachments/files/000/000/004/original/song.mp3",
				"4 thumbnail/original: cache/media_attachments/thumbnails/000/000/004/original/cover.png",
				"5 file/original: media_attachments/files/000/000/005/original/song2.mp3",
				"5 thumbnail/original: media_attachments/thumbnails/000/000/005/original/cover2.jpg",
				"8 file/original: media_attachments/files/000/000/008/original/nosmall.jpg",
				"8 file/small: media_attachments/files/000/000/008/small/nosmall.jpg", // styles never depend on file_meta
				"9 file/original: media_attachments/files/000/000/009/original/мой файл.jpg",
				"9 file/small: media_attachments/files/000/000/009/small/мой файл.jpg",
				"109876543210987654 file/original: cache/media_attachments/files/109/876/543/210/987/654/original/snow.png",
				"109876543210987654 file/small: cache/media_attachments/files/109/876/543/210/987/654/small/snow.png",
			},
			records: 11,
			// file: 6 NULL, 7 empty, 10 hostile; thumbnail NULL: 1, 2, 3, 6, 7, 8, 9, 10, 109876543210987654
			skipped: 12,
			invalid: []string{`media_attachments 10 file: file name "../../../etc/passwd" contains a path separator`},
		},
		{
			kind: catalog.Accounts,
			want: []string{
				"1 avatar/original: accounts/avatars/000/000/001/original/a.gif",
				"1 avatar/static: accounts/avatars/000/000/001/static/a.png",
				"1 header/original: accounts/headers/000/000/001/original/h.jpg",
				"2 avatar/original: cache/accounts/avatars/000/000/002/original/b.png",
				"2 header/original: accounts/headers/000/000/002/original/hb.gif",
				"2 header/static: accounts/headers/000/000/002/static/hb.png",
				"3 header/original: accounts/headers/000/000/003/original/hc.png",
			},
			records: 4,
			skipped: 3,
		},
		{
			kind: catalog.CustomEmojis,
			want: []string{
				"1 image/original: custom_emojis/images/000/000/001/original/blob.png",
				"1 image/static: custom_emojis/images/000/000/001/static/blob.png",
				"2 image/original: cache/custom_emojis/images/000/000/002/original/party.gif",
				"2 image/static: cache/custom_emojis/images/000/000/002/static/party.png",
				"3 image/original: custom_emojis/images/000/000/003/original/old.png",
				"3 image/static: custom_emojis/images/000/000/003/static/old.png",
			},
			records: 3,
		},
		{
			kind: catalog.PreviewCards,
			want: []string{
				"1 image/original: cache/preview_cards/images/000/000/001/original/card.jpg",
				"2 image/original: preview_cards/images/000/000/002/original/old card.jpg",
			},
			records: 3,
			skipped: 1,
		},
		{
			kind: catalog.SiteUploads,
			want: []string{
				"1 file/original: site_uploads/files/000/000/001/original/thumb.jpg",
				"1 file/@1x: site_uploads/files/000/000/001/@1x/thumb.png",
				"1 file/@2x: site_uploads/files/000/000/001/@2x/thumb.png",
				"2 file/original: site_uploads/files/000/000/002/original/mascot.svg",
				"3 file/original: site_uploads/files/000/000/003/original/fav.png",
				"3 file/16: site_uploads/files/000/000/003/16/fav.png",
				"3 file/32: site_uploads/files/000/000/003/32/fav.png",
				"3 file/48: site_uploads/files/000/000/003/48/fav.png",
			},
			records: 3,
		},
		{
			kind: catalog.PreviewCardProviders,
			want: []string{
				"1 icon/original: preview_card_providers/icons/000/000/001/original/icon.ico",
				"1 icon/static: preview_card_providers/icons/000/000/001/static/icon.png",
			},
			records: 1,
		},
		{
			kind:    catalog.Backups,
			want:    []string{"1 dump/original: backups/dumps/000/000/001/original/archive-20240101.zip"},
			records: 2,
			skipped: 1,
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			pages := pgtest.ScanAll(t, r, tt.kind, catalog.ScanOptions{})
			assertKeys(t, tt.kind, pgtest.Keys(pages), tt.want)
			records, skipped, invalid := sum(pages)
			if records != tt.records || skipped != tt.skipped || !reflect.DeepEqual(invalid, tt.invalid) {
				t.Errorf("records %d skipped %d invalid %q, want %d %d %q", records, skipped, invalid, tt.records, tt.skipped, tt.invalid)
			}
			n, err := r.Count(context.Background(), tt.kind)
			if err != nil || n != int64(tt.records) {
				t.Errorf("Count = %d, %v; want %d", n, err, tt.records)
			}
		})
	}

	// Fields other than the key, on a few objects.
	pages := pgtest.ScanAll(t, r, catalog.MediaAttachments, catalog.ScanOptions{})
	byKey := map[string]catalog.Object{}
	for _, o := range pages[0].Objects {
		byKey[o.Key()] = o
	}
	small := byKey["cache/media_attachments/files/000/000/002/small/vid.png"]
	if small.Size != 0 || small.ContentType != "image/png" || !small.Remote ||
		!reflect.DeepEqual(small.Candidates, []string{
			"cache/media_attachments/files/000/000/002/small/vid.png",
			"media_attachments/files/000/000/002/small/vid.png",
		}) {
		t.Errorf("video small: %+v", small)
	}
	orig := byKey["media_attachments/files/000/000/001/original/img.jpg"]
	if orig.Size != 1000 || orig.ContentType != "image/jpeg" || orig.Remote || orig.Kind != catalog.MediaAttachments || orig.RecordID != 1 {
		t.Errorf("image original: %+v", orig)
	}
	bpages := pgtest.ScanAll(t, r, catalog.Backups, catalog.ScanOptions{})
	if o := bpages[0].Objects[0]; o.Size != 5000000000 || o.ContentType != "application/zip" {
		t.Errorf("backup: %+v", o)
	}
}

func TestScan3x(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.V3Schema))
	db.Exec(t, `
INSERT INTO media_attachments (id, file_file_name, file_content_type, file_file_size, remote_url, type) VALUES
 (1, 'local.jpg', 'image/jpeg', 10, '', 0),
 (2, 'remote.mp4', 'video/mp4', 20, 'https://remote.example/r.mp4', 2);
INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, header_file_name, header_content_type) VALUES
 (1, 'bob', 'remote.example', 'b.gif', 'image/gif', 'h.png', 'image/png');
INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type) VALUES (1, 'e', 'remote.example', 'e.png', 'image/png');
INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES (1, 'https://a.example/', 'c.jpg', 'image/jpeg');
INSERT INTO site_uploads (id, var, file_file_name, file_content_type) VALUES (1, 'thumbnail', 't.png', 'image/png');
INSERT INTO backups (id, dump_file_name, dump_content_type, dump_file_size) VALUES (1, 'b.zip', 'application/zip', 7);
`)
	r := pgtest.Open(t, db.Config)

	if r.Available(catalog.PreviewCardProviders) || !r.Available(catalog.Backups) {
		t.Error("Available: wrong tables")
	}
	if r.HasColumn(catalog.MediaAttachments, "thumbnail_file_name") || !r.HasColumn(catalog.MediaAttachments, "file_file_name") {
		t.Error("HasColumn: wrong columns")
	}

	want := map[catalog.Kind][]string{
		catalog.MediaAttachments: {
			"1 file/original: media_attachments/files/000/000/001/original/local.jpg",
			"1 file/small: media_attachments/files/000/000/001/small/local.jpg",
			"2 file/original: media_attachments/files/000/000/002/original/remote.mp4",
			"2 file/small: media_attachments/files/000/000/002/small/remote.png",
		},
		catalog.Accounts: {
			"1 avatar/original: accounts/avatars/000/000/001/original/b.gif",
			"1 avatar/static: accounts/avatars/000/000/001/static/b.png",
			"1 header/original: accounts/headers/000/000/001/original/h.png",
		},
		catalog.CustomEmojis: {
			"1 image/original: custom_emojis/images/000/000/001/original/e.png",
			"1 image/static: custom_emojis/images/000/000/001/static/e.png",
		},
		catalog.PreviewCards: {"1 image/original: preview_cards/images/000/000/001/original/c.jpg"},
		catalog.SiteUploads: {
			"1 file/original: site_uploads/files/000/000/001/original/t.png",
		},
		catalog.Backups: {"1 dump/original: backups/dumps/000/000/001/original/b.zip"},
	}
	for kind, w := range want {
		pages := pgtest.ScanAll(t, r, kind, catalog.ScanOptions{})
		assertKeys(t, kind, pgtest.Keys(pages), w)
		if _, skipped, _ := sum(pages); skipped != 0 {
			t.Errorf("%s: skipped %d", kind, skipped)
		}
	}

	err := r.Scan(context.Background(), catalog.PreviewCardProviders, catalog.ScanOptions{}, func(catalog.Page) error {
		t.Error("fn called for a missing table")
		return nil
	})
	if !errors.Is(err, catalog.ErrNoTable) || !strings.Contains(err.Error(), "preview_card_providers") {
		t.Errorf("Scan of missing table: %v", err)
	}
	if _, err := r.Count(context.Background(), catalog.PreviewCardProviders); !errors.Is(err, catalog.ErrNoTable) {
		t.Errorf("Count of missing table: %v", err)
	}
}

func TestScanThumbnailBefore46(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, `
ALTER TABLE media_attachments DROP COLUMN thumbnail_storage_schema_version;
INSERT INTO media_attachments (id, file_file_name, file_content_type, remote_url, type, file_storage_schema_version,
    thumbnail_file_name, thumbnail_content_type) VALUES
 (1, 'a.mp3', 'audio/mpeg', 'https://remote.example/a.mp3', 4, 1, 'cover.jpg', 'image/jpeg');
`)
	r := pgtest.Open(t, db.Config)
	assertKeys(t, catalog.MediaAttachments, pgtest.Keys(pgtest.ScanAll(t, r, catalog.MediaAttachments, catalog.ScanOptions{})), []string{
		"1 file/original: cache/media_attachments/files/000/000/001/original/a.mp3",
		"1 thumbnail/original: media_attachments/thumbnails/000/000/001/original/cover.jpg",
	})
}

func TestScanMissingRequiredColumn(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, `ALTER TABLE accounts DROP COLUMN header_file_name;`)
	r := pgtest.Open(t, db.Config)
	err := r.Scan(context.Background(), catalog.Accounts, catalog.ScanOptions{}, func(catalog.Page) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "accounts") || !strings.Contains(err.Error(), "header_file_name") {
		t.Errorf("err = %v, want one naming accounts and header_file_name", err)
	}
	if errors.Is(err, catalog.ErrNoTable) {
		t.Error("a missing column is not a missing table")
	}
}

// insertBackups inserts backups with the given ids and file names "<id>.zip".
func insertBackups(t *testing.T, db *pgtest.Database, ids ...int64) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO backups (id, dump_file_name) VALUES ")
	for i, id := range ids {
		if i > 0 {
			sb.WriteString(", ")
		}
		s := strconv.FormatInt(id, 10)
		sb.WriteString("(" + s + ", '" + s + ".zip')")
	}
	db.Exec(t, sb.String())
}

func recordIDs(pages []catalog.Page) []int64 {
	var ids []int64
	for _, p := range pages {
		for _, o := range p.Objects {
			ids = append(ids, o.RecordID)
		}
	}
	return ids
}

func TestScanPagination(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	ids := []int64{3, 10, 11, 250, 1000, 1001, 109876543210987654}
	insertBackups(t, db, ids[3], ids[0], ids[6], ids[1], ids[5], ids[2], ids[4]) // out of order
	r := pgtest.Open(t, db.Config)

	tests := []struct {
		name      string
		opts      catalog.ScanOptions
		wantIDs   []int64
		wantPages []int
	}{
		{"page size 2", catalog.ScanOptions{PageSize: 2}, ids, []int{2, 2, 2, 1}},
		{"page size divides evenly", catalog.ScanOptions{PageSize: 7}, ids, []int{7}},
		{"default page size", catalog.ScanOptions{}, ids, []int{7}},
		{"offset", catalog.ScanOptions{Offset: 3, PageSize: 2}, ids[3:], []int{2, 2}},
		{"offset and limit", catalog.ScanOptions{Offset: 2, Limit: 3, PageSize: 2}, ids[2:5], []int{2, 1}},
		{"limit", catalog.ScanOptions{Limit: 4, PageSize: 2}, ids[:4], []int{2, 2}},
		{"limit below page size", catalog.ScanOptions{Limit: 1, PageSize: 2}, ids[:1], []int{1}},
		{"limit past the end", catalog.ScanOptions{Limit: 100, PageSize: 3}, ids, []int{3, 3, 1}},
		{"offset at the last record", catalog.ScanOptions{Offset: 6, PageSize: 2}, ids[6:], []int{1}},
		{"offset past the end", catalog.ScanOptions{Offset: 7, PageSize: 2}, nil, nil},
		{"offset far past the end", catalog.ScanOptions{Offset: 100}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := pgtest.ScanAll(t, r, catalog.Backups, tt.opts)
			if got := recordIDs(pages); !reflect.DeepEqual(got, tt.wantIDs) {
				t.Errorf("ids %v, want %v", got, tt.wantIDs)
			}
			var sizes []int
			for _, p := range pages {
				sizes = append(sizes, p.Records)
				if p.LastID != p.Objects[len(p.Objects)-1].RecordID {
					t.Errorf("LastID %d, last object of record %d", p.LastID, p.Objects[len(p.Objects)-1].RecordID)
				}
			}
			if !reflect.DeepEqual(sizes, tt.wantPages) {
				t.Errorf("page sizes %v, want %v", sizes, tt.wantPages)
			}
		})
	}
}

func TestScanCallbackError(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1, 2, 3, 4, 5)
	r := pgtest.Open(t, db.Config)
	stop := errors.New("stop")
	calls := 0
	err := r.Scan(context.Background(), catalog.Backups, catalog.ScanOptions{PageSize: 2}, func(catalog.Page) error {
		calls++
		// The callback may query too: Scan holds no query open while it runs.
		if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 5 {
			t.Errorf("Count in callback = %d, %v", n, err)
		}
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("err %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestScanCanceled(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1, 2, 3)
	r := pgtest.Open(t, db.Config)
	ctx, cancel := context.WithCancel(context.Background())
	err := r.Scan(ctx, catalog.Backups, catalog.ScanOptions{PageSize: 1}, func(catalog.Page) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestScanArguments(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	r := pgtest.Open(t, db.Config)
	fn := func(catalog.Page) error { return nil }
	if err := r.Scan(context.Background(), "statuses", catalog.ScanOptions{}, fn); err == nil {
		t.Error("no error for an unknown kind")
	}
	if err := r.Scan(context.Background(), catalog.Backups, catalog.ScanOptions{Offset: -1}, fn); err == nil {
		t.Error("no error for a negative offset")
	}
	if err := r.Scan(context.Background(), catalog.Backups, catalog.ScanOptions{}, func(catalog.Page) error {
		t.Error("fn called for an empty table")
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func TestOpenWrongPassword(t *testing.T) {
	db := pgtest.NewDatabase(t, "")
	cfg := db.Config
	cfg.Password = "Wr0ng-S3cret-Passw0rd"
	_, err := catalog.Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("Open succeeded with a wrong password")
	}
	msg := err.Error()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)) + "/" + cfg.Database
	if strings.Contains(msg, cfg.Password) || strings.Contains(msg, "\n") || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want one line naming %s without the password", msg, addr)
	}
	if s := cfg.String() + cfg.GoString(); strings.Contains(s, cfg.Password) {
		t.Errorf("DBConfig prints its password: %s", s)
	}
}

func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close() // nothing listens there now
	cfg := catalog.DBConfig{Host: "127.0.0.1", Port: addr.Port, User: "u", Password: "topsecret", Database: "mastodon", SSLMode: "disable"}
	_, err = catalog.Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "topsecret") || strings.Contains(msg, "\n") || !strings.Contains(msg, "127.0.0.1:"+strconv.Itoa(addr.Port)+"/mastodon") {
		t.Errorf("error %q", msg)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := catalog.Open(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context: %v, want context.Canceled", err)
	}
}

func TestOpenDialFunc(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1)
	real := net.JoinHostPort(db.Config.Host, strconv.Itoa(db.Config.Port))
	cfg := db.Config
	cfg.Host = "db.behind-the-tunnel.invalid" // resolvable only at the tunnel's far end
	var dialed []string
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", real)
	}
	r := pgtest.Open(t, cfg)
	if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 1 {
		t.Errorf("Count = %d, %v", n, err)
	}
	want := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	if len(dialed) == 0 || dialed[0] != want {
		t.Errorf("dialed %v, want %s unresolved", dialed, want)
	}
}

func TestCloseTwice(t *testing.T) {
	db := pgtest.NewDatabase(t, "")
	r, err := catalog.Open(context.Background(), db.Config)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close()
	if _, err := r.Count(context.Background(), catalog.Backups); err == nil {
		t.Error("Count on a closed reader succeeded")
	}
}
