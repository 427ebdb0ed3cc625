package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/engine"
)

// The releases whose real schemas catalog/testdata holds, oldest first.
var releaseFixtures = []string{"3.0", "3.5", "4.0", "4.2", "4.3", "4.5", "4.7"}

// release is one fixture's Mastodon release and what its schema has.
type release string

func (r release) atLeast(v string) bool {
	return slices.Index(releaseFixtures, string(r)) >= slices.Index(releaseFixtures, v)
}

// The fixtures of 3.0 predate storage schema versions and media thumbnails (3.2) and preview
// card providers (3.5); 4.7 has the thumbnails' own storage schema version (4.6).
func (r release) hasStorageSchema() bool   { return r.atLeast("3.5") }
func (r release) hasThumbnailSchema() bool { return r.atLeast("4.7") }

// expectedFile is one file the test's records reference: the key Mastodon asks for, where
// the source bucket holds it ("" = the same key; "-" = nowhere: missing).
type expectedFile struct {
	key, stored string
}

// releaseRecords inserts records that exercise every layout rule the release has and returns
// the files they reference, written out by hand from Mastodon's code (app/models,
// config/initializers/paperclip.rb, kt-paperclip's interpolations) rather than computed by
// catalog, so that the test checks catalog against the rules, not against itself.
func releaseRecords(s *sandbox, r release) []expectedFile {
	var files []expectedFile
	add := func(stored string, keys ...string) {
		for _, k := range keys {
			files = append(files, expectedFile{k, stored})
		}
	}
	cache := "" // cache/ for remote records with storage schema version 1
	if r.hasStorageSchema() {
		cache = "cache/"
	}

	// media_attachments: styles follow file_content_type only (never type, never file_meta).
	ma := "media_attachments/files/"
	type media struct {
		id                     string
		typ                    int
		name, ct, remote, meta string
		thumb, thumbCT, minRel string
		ssv                    bool // file_storage_schema_version 1
	}
	rows := []media{
		{id: "7", name: "a.jpg", ct: "image/jpeg"},
		{id: "8", name: "m.jpg", ct: "image/jpeg", meta: `{"original":{"width":4,"height":4}}`},
		{id: "9", name: "g.gif", ct: "image/gif"},
		{id: "10", typ: 2, name: "v.mp4", ct: "video/mp4"},
		{id: "11", typ: 1, name: "gv.mp4", ct: "video/mp4"},
		{id: "12", typ: 4, name: "s.mp3", ct: "audio/mpeg", thumb: "t.jpg", thumbCT: "image/jpeg"},
		{id: "13", typ: 0, name: "x.mp4", ct: "video/mp4"},
		{id: "14", name: "r.jpg", ct: "image/jpeg", remote: "https://r.example/r.jpg", ssv: true},
		{id: "15", name: "w.webp", ct: "image/webp", minRel: "4.0"},
		{id: "16", name: "h.heic", ct: "image/heic", minRel: "4.0"},
		{id: "20", name: "av.avif", ct: "image/avif", minRel: "4.0"},
		{id: "17", typ: 4, name: "ra.mp3", ct: "audio/mpeg", remote: "https://r.example/ra.mp3", ssv: true, thumb: "rt.png", thumbCT: "image/png"},
		{id: "18"}, // no file: nothing to copy
		{id: "19", name: "ws.png", ct: "image/png", remote: "   ", ssv: true},
		{id: "1234567890", name: "ten.png", ct: "image/png"},
		{id: "12345678901", name: "eleven.jpg", ct: "image/jpeg"},
		{id: "109999999999999999", typ: 2, name: "big.mp4", ct: "video/mp4", remote: "https://r.example/big.mp4", ssv: true},
	}
	for _, m := range rows {
		if m.minRel != "" && !r.atLeast(m.minRel) {
			continue
		}
		cols := []string{"id", "type", "file_file_name", "file_content_type", "file_file_size", "remote_url", "file_meta"}
		vals := []string{m.id, fmt.Sprint(m.typ), sqlText(m.name), sqlText(m.ct), "64", sqlQuote(m.remote), sqlText(m.meta)}
		if r.hasStorageSchema() {
			cols, vals = append(cols, "file_storage_schema_version"), append(vals, map[bool]string{true: "1", false: "NULL"}[m.ssv])
		}
		if r.hasStorageSchema() && m.thumb != "" { // thumbnails came with 3.2
			cols = append(cols, "thumbnail_file_name", "thumbnail_content_type")
			vals = append(vals, sqlText(m.thumb), sqlText(m.thumbCT))
			if r.hasThumbnailSchema() {
				cols, vals = append(cols, "thumbnail_storage_schema_version"), append(vals, "1")
			}
		}
		s.exec("INSERT INTO media_attachments (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")")
	}
	p := func(part string) string { return ma + part + "/" }
	add("", p("000/000/007")+"original/a.jpg", p("000/000/007")+"small/a.jpg")
	add("", p("000/000/008")+"original/m.jpg", p("000/000/008")+"small/m.jpg")
	add("", p("000/000/009")+"original/g.gif", p("000/000/009")+"small/g.png")
	add("", p("000/000/010")+"original/v.mp4", p("000/000/010")+"small/v.png")
	add("", p("000/000/011")+"original/gv.mp4", p("000/000/011")+"small/gv.png")
	add("", p("000/000/012")+"original/s.mp3")
	add("", p("000/000/013")+"original/x.mp4", p("000/000/013")+"small/x.png")
	add("", cache+p("000/000/014")+"original/r.jpg", cache+p("000/000/014")+"small/r.jpg")
	if r.atLeast("4.0") {
		add("", p("000/000/015")+"original/w.webp", p("000/000/015")+"small/w.webp")
		add("", p("000/000/016")+"original/h.heic", p("000/000/016")+"small/h.jpeg")
		// AVIF joined IMAGE_CONVERTIBLE_MIME_TYPES in 4.2: its small is JPEG from then on,
		// AVIF in 4.0 and 4.1; a 4.0 small is found and written where 4.2+ asks for it.
		if r.atLeast("4.2") {
			add(p("000/000/020")+"small/av.avif", p("000/000/020")+"small/av.jpeg")
		} else {
			add("", p("000/000/020")+"small/av.avif")
		}
		add("", p("000/000/020")+"original/av.avif")
	}
	add("", cache+p("000/000/017")+"original/ra.mp3")
	if r.hasStorageSchema() {
		add("", "media_attachments/thumbnails/000/000/012/original/t.jpg")
		thumbCache := ""
		if r.hasThumbnailSchema() {
			thumbCache = "cache/"
		}
		add("", thumbCache+"media_attachments/thumbnails/000/000/017/original/rt.png")
	}
	add("", p("000/000/019")+"original/ws.png", p("000/000/019")+"small/ws.png") // blank remote_url: local
	if r.atLeast("3.5") {
		// kt-paperclip pads 10 and 11 digits to 12; the files of this record were written by
		// 3.4's Paperclip (9 digits) and are found there.
		add(p("123/456/789")+"original/ten.png", p("001/234/567/890")+"original/ten.png")
		add(p("123/456/789")+"small/ten.png", p("001/234/567/890")+"small/ten.png")
		add("", p("012/345/678/901")+"original/eleven.jpg", p("012/345/678/901")+"small/eleven.jpg")
	} else {
		add("", p("123/456/789")+"original/ten.png", p("123/456/789")+"small/ten.png")
		add("", p("123/456/789")+"original/eleven.jpg", p("123/456/789")+"small/eleven.jpg")
	}
	add("", cache+p("109/999/999/999/999/999")+"original/big.mp4", cache+p("109/999/999/999/999/999")+"small/big.png")

	// accounts: static only for GIFs; cache/ per attachment's own schema version.
	acct := "INSERT INTO accounts (id, username, domain, avatar_file_name, avatar_content_type, header_file_name, header_content_type%s) VALUES %s"
	ssvCols := ""
	vals := []string{
		"(1, 'local', NULL, 'av.gif', 'image/gif', 'h.jpg', 'image/jpeg'%s)",
		"(2, 'remote', 'x.example', 'ra.png', 'image/png', 'rh.gif', 'image/gif'%s)",
		"(1234567891, 'old', NULL, 'tn.png', 'image/png', NULL, NULL%s)",
	}
	ssvVals := []string{"", "", ""}
	if r.hasStorageSchema() {
		ssvCols = ", avatar_storage_schema_version, header_storage_schema_version"
		ssvVals = []string{", 1, 1", ", 1, 0", ", NULL, NULL"}
	}
	for i := range vals {
		vals[i] = fmt.Sprintf(vals[i], ssvVals[i])
	}
	s.exec(fmt.Sprintf(acct, ssvCols, strings.Join(vals, ", ")))
	add("", "accounts/avatars/000/000/001/original/av.gif", "accounts/avatars/000/000/001/static/av.png",
		"accounts/headers/000/000/001/original/h.jpg")
	if r.hasStorageSchema() {
		// The storage schema upgrade did not move this one to cache/: found at the old key.
		add("accounts/avatars/000/000/002/original/ra.png", "cache/accounts/avatars/000/000/002/original/ra.png")
	} else {
		add("", "accounts/avatars/000/000/002/original/ra.png")
	}
	add("", "accounts/headers/000/000/002/original/rh.gif", "accounts/headers/000/000/002/static/rh.png")
	if r.atLeast("3.5") {
		add("", "accounts/avatars/001/234/567/891/original/tn.png")
	} else {
		add("", "accounts/avatars/123/456/789/original/tn.png")
	}

	// custom_emojis: static always; preview_cards: never local.
	if r.hasStorageSchema() {
		s.exec(`INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type, image_storage_schema_version) VALUES
			(5, 'blob', NULL, 'blob.png', 'image/png', 1), (6, 'party', 'z.example', 'party.gif', 'image/gif', 1)`)
		s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type, image_storage_schema_version) VALUES
			(6, 'https://news.example/6', 'p.jpg', 'image/jpeg', 1), (7, 'https://news.example/7', 'q.png', 'image/png', NULL)`)
	} else {
		s.exec(`INSERT INTO custom_emojis (id, shortcode, domain, image_file_name, image_content_type) VALUES
			(5, 'blob', NULL, 'blob.png', 'image/png'), (6, 'party', 'z.example', 'party.gif', 'image/gif')`)
		s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES
			(6, 'https://news.example/6', 'p.jpg', 'image/jpeg'), (7, 'https://news.example/7', 'q.png', 'image/png')`)
	}
	add("", "custom_emojis/images/000/000/005/original/blob.png", "custom_emojis/images/000/000/005/static/blob.png")
	add("", cache+"custom_emojis/images/000/000/006/original/party.gif", cache+"custom_emojis/images/000/000/006/static/party.png")
	add("", cache+"preview_cards/images/000/000/006/original/p.jpg", "preview_cards/images/000/000/007/original/q.png")

	// site_uploads: styles by var and release, never cache/.
	s.exec(`INSERT INTO site_uploads (id, var, file_file_name, file_content_type) VALUES
		(1, 'thumbnail', 'th.jpg', 'image/jpeg'), (2, 'mascot', 'm.svg', 'image/svg+xml')`)
	su := "site_uploads/files/"
	add("", su+"000/000/001/original/th.jpg", su+"000/000/002/original/m.svg")
	if r.atLeast("4.0") {
		add("", su+"000/000/001/@1x/th.png", su+"000/000/001/@2x/th.png")
	}
	if r.atLeast("4.3") {
		s.exec(`INSERT INTO site_uploads (id, var, file_file_name, file_content_type) VALUES
			(3, 'favicon', 'fav.png', 'image/png'), (4, 'app_icon', 'app.png', 'image/png')`)
		add("", su+"000/000/003/original/fav.png")
		for _, n := range []int{16, 32, 48} {
			add("", fmt.Sprintf("%s000/000/003/%d/fav.png", su, n))
		}
		add("", su+"000/000/004/original/app.png")
		for _, n := range []int{36, 48, 57, 60, 72, 76, 96, 114, 120, 144, 152, 167, 180, 192, 256, 384, 512, 1024} {
			add("", fmt.Sprintf("%s000/000/004/%d/app.png", su, n))
		}
	}

	// preview_card_providers (3.5+): static always.
	if r.atLeast("3.5") {
		s.exec(`INSERT INTO preview_card_providers (id, domain, icon_file_name, icon_content_type) VALUES (1, 'news.example', 'i.png', 'image/png')`)
		add("", "preview_card_providers/icons/000/000/001/original/i.png", "preview_card_providers/icons/000/000/001/static/i.png")
	}

	// backups: its file is not in the source bucket.
	s.exec(`INSERT INTO backups (id, dump_file_name, dump_content_type) VALUES (1, 'archive.zip', 'application/zip')`)
	add("-", "backups/dumps/000/000/001/original/archive.zip")
	return files
}

func sqlQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// sqlText is v quoted, or NULL for "".
func sqlText(v string) string {
	if v == "" {
		return "NULL"
	}
	return sqlQuote(v)
}

// Every layout rule on the real schema of every release from 3.0 to 4.7: plan computes the
// keys Mastodon asks for, the dry run and the report show them, copy writes each file there
// (also when the source holds it under an older release's key), and orphans lists exactly the
// source keys no record references.
func TestReleasesPlanCopyOrphans(t *testing.T) {
	for _, rel := range releaseFixtures {
		t.Run(rel, func(t *testing.T) {
			s := newSandbox(t, "mastodon_"+rel+".sql")
			files := releaseRecords(s, release(rel))

			var want, missing []string
			var stored []sourceObject
			for _, f := range files {
				want = append(want, f.key)
				switch f.stored {
				case "-":
					missing = append(missing, f.key)
				case "":
					stored = append(stored, sourceObject{key: f.key, size: 64})
				default:
					stored = append(stored, sourceObject{key: f.stored, size: 64})
				}
			}
			orphans := []string{
				"media_attachments/files/000/000/007/original/old-name.jpg",
				"media_attachments/files/000/000/999/original/deleted.jpg",
				"stray/readme.txt",
			}
			for _, k := range orphans {
				stored = append(stored, sourceObject{key: k, size: 8})
			}
			bodies := s.upload(stored...)
			sort.Strings(want)

			r := s.must(exitOK, "plan")
			if !strings.Contains(r.stdout, "Mastodon "+rel) || strings.Contains(r.stdout, "version unknown") {
				t.Errorf("plan does not name Mastodon %s:\n%s", rel, r.stdout)
			}
			r = s.must(exitOK, "copy", "--dry-run")
			for _, k := range want {
				if !strings.Contains(r.stdout, " "+k+" ") {
					t.Errorf("dry run does not show %s", k)
				}
			}
			if got := reportKeys(t, s, "pending"); !slices.Equal(got, want) {
				t.Errorf("planned keys:\n%s", diffKeys(got, want))
			}

			r = s.must(exitOK, "copy")
			copied := map[string][]byte{}
			for _, f := range files {
				switch f.stored {
				case "-":
				case "":
					copied[f.key] = bodies[f.key]
				default:
					copied[f.key] = bodies[f.stored]
				}
			}
			s.assertCopied(copied)
			// Mastodon uploads every object with this Cache-Control, in every release
			// (config/initializers/paperclip.rb, s3_headers, since 2016); the sources here have
			// none, so each copy gets it as Mastodon would have written it.
			for k := range copied {
				if _, info := s.dstServer().GetObject(t, s.dst, k); info.CacheControl != "public, max-age=315576000, immutable" {
					t.Errorf("%s: Cache-Control %q at the destination", k, info.CacheControl)
				}
			}
			if got := reportKeys(t, s, "missing"); !slices.Equal(got, missing) {
				t.Errorf("missing keys:\n%s", diffKeys(got, missing))
			}
			var done []string
			for k := range copied {
				done = append(done, k)
			}
			sort.Strings(done)
			if got := reportKeys(t, s, "done"); !slices.Equal(got, done) {
				t.Errorf("done keys:\n%s", diffKeys(got, done))
			}
			// The JSON report says where a file was found when that is not where it went.
			out := filepath.Join(t.TempDir(), "done.json")
			s.must(exitOK, "report", "--format", "json", "--status", "done", "--output", out)
			data, _ := os.ReadFile(out)
			var rows []engine.Row
			if err := json.Unmarshal(data, &rows); err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				for _, f := range files {
					if f.key == row.Key && f.stored != "" && row.SourceKey != f.stored {
						t.Errorf("%s: source_key %q, want %q", row.Key, row.SourceKey, f.stored)
					}
				}
			}

			out = filepath.Join(t.TempDir(), "orphans.csv")
			s.must(exitOK, "orphans", "--output", out)
			data, _ = os.ReadFile(out)
			recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil || len(recs) == 0 {
				t.Fatalf("orphans csv: %v\n%s", err, data)
			}
			var gotOrphans []string
			for _, rec := range recs[1:] {
				gotOrphans = append(gotOrphans, rec[0])
			}
			sort.Strings(gotOrphans)
			if !slices.Equal(gotOrphans, orphans) {
				t.Errorf("orphans:\n%s", diffKeys(gotOrphans, orphans))
			}
		})
	}
}

// reportKeys returns the sorted key column of `report --format csv --status st`.
func reportKeys(t *testing.T, s *sandbox, st string) []string {
	t.Helper()
	r := s.must(exitOK, "report", "--format", "csv", "--status", st)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("report csv: %v\n%s", err, r.stdout)
	}
	var keys []string
	for _, rec := range recs[1:] {
		keys = append(keys, rec[4])
	}
	sort.Strings(keys)
	return keys
}

// diffKeys lists the keys only in got (+) and only in want (-).
func diffKeys(got, want []string) string {
	var b strings.Builder
	for _, k := range got {
		if !slices.Contains(want, k) {
			fmt.Fprintf(&b, "  + %s\n", k)
		}
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			fmt.Fprintf(&b, "  - %s\n", k)
		}
	}
	return b.String()
}
