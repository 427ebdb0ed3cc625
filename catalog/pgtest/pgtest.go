// Package pgtest gives tests a fresh PostgreSQL database of their own, loaded with one of
// catalog's Mastodon schema fixtures, on the server named by S3SYNC_TEST_PG_URL.
//
// `make test` starts the server and sets the variable. Without it a test is skipped, except
// under CI=true, where a missing server fails the run.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/internal/testio"
	"github.com/s3sync/s3sync/internal/text"
)

// EnvURL names the environment variable holding the admin connection URL, such as
// postgres://s3sync:s3sync@127.0.0.1:5432/postgres?sslmode=disable. Its role must be
// allowed to create databases.
const EnvURL = "S3SYNC_TEST_PG_URL"

// Schema fixtures in catalog/testdata, for NewDatabase via Schema.
const (
	ModernSchema = "mastodon_modern.sql" // Mastodon 4.6: media thumbnail_storage_schema_version
	V3Schema     = "mastodon_3x.sql"     // Mastodon 3.1: no storage schema versions, no thumbnails, no preview_card_providers
)

// Schema returns the path of the named fixture in catalog/testdata, wherever the test runs.
func Schema(name string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", name)
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", name)
}

// Database is a database created for one test and dropped when it ends.
type Database struct {
	Name   string           // the database's name: s3sync_test_<test>_<random>
	Config catalog.DBConfig // how to reach it, with the admin role's credentials
}

// AdminURL returns the admin connection URL from EnvURL. When it is unset the test is
// skipped, or failed when CI=true.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u != "" {
		return u
	}
	testio.Missing(t, EnvURL+" is not set: run `make test`, which starts PostgreSQL, or source .tools/test-env.sh")
	return ""
}

// NewDatabase creates a database with a unique name, loads schemaFile into it (none when
// ""), and drops it when the test ends. Use Schema(ModernSchema) or Schema(V3Schema) for the
// fixtures.
func NewDatabase(t testing.TB, schemaFile string) *Database {
	t.Helper()
	adminURL := AdminURL(t)
	admin, err := pgconn.ParseConfig(adminURL)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", EnvURL, err)
	}
	var schema string
	if schemaFile != "" {
		b, err := os.ReadFile(schemaFile)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		schema = string(b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("pgtest: connect to admin database: %v", err)
	}
	defer conn.Close(context.Background())

	name := uniqueName(t.Name())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	sslMode := "disable"
	if admin.TLSConfig != nil {
		sslMode = "prefer" // the admin URL asked for TLS; prefer keeps its fallback
	}
	db := &Database{
		Name: name,
		Config: catalog.DBConfig{
			Host:     admin.Host,
			Port:     int(admin.Port),
			User:     admin.User,
			Password: admin.Password,
			Database: name,
			SSLMode:  sslMode,
		},
	}
	if schema != "" {
		db.Exec(t, schema)
	}
	return db
}

// Exec runs SQL text (any number of statements) in the database and fails the test on error.
func (d *Database) Exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := LoadSQL(ctx, d.Config, sql); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// LoadSQL runs SQL text (any number of statements, simple protocol, one implicit
// transaction) in the database cfg names. Tests and the demo generator insert rows with it.
func LoadSQL(ctx context.Context, cfg catalog.DBConfig, sql string) error {
	cc, err := cfg.ConnConfig()
	if err != nil {
		return fmt.Errorf("load sql into %s: %w", cfg.Address(), err)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("load sql into %s: connect: %s", cfg.Address(), text.Redact(err.Error(), cfg.Password))
	}
	defer conn.Close(context.Background())
	if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("load sql into %s: %w", cfg.Address(), err)
	}
	return nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueName returns s3sync_test_<test name>_<random hex>, at most 63 bytes (PostgreSQL's limit).
func uniqueName(testName string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	slug := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	const prefix = "s3sync_test_"
	suffix := "_" + hex.EncodeToString(b[:])
	if max := 63 - len(prefix) - len(suffix); len(slug) > max {
		slug = slug[:max]
	}
	return prefix + slug + suffix
}

// Open opens a catalog reader of cfg and closes it when the test ends.
func Open(t testing.TB, cfg catalog.DBConfig) *catalog.Reader {
	t.Helper()
	r, err := catalog.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// ScanAll scans kind and returns every page.
func ScanAll(t testing.TB, r *catalog.Reader, kind catalog.Kind, opts catalog.ScanOptions) []catalog.Page {
	t.Helper()
	var pages []catalog.Page
	err := r.Scan(context.Background(), kind, opts, func(p catalog.Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", kind, err)
	}
	return pages
}

// Keys returns "id attachment/style: key" for every object of the pages.
func Keys(pages []catalog.Page) []string {
	var out []string
	for _, p := range pages {
		for _, o := range p.Objects {
			out = append(out, fmt.Sprintf("%d %s/%s: %s", o.RecordID, o.Attachment, o.Style, o.Key()))
		}
	}
	return out
}
