package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SchemaVersion is what schema_migrations says about the Mastodon version of the database.
type SchemaVersion struct {
	Migration string // the latest migration applied, e.g. "20240909014637"; "" when unknown
	Mastodon  string // the Mastodon release that migration belongs to, e.g. "4.3"; "" when unknown
}

// String returns e.g. "Mastodon 4.3 (schema 20240909014637)", or "Mastodon version unknown".
func (v SchemaVersion) String() string {
	switch {
	case v.Migration == "":
		return "Mastodon version unknown (no schema_migrations)"
	case v.Mastodon == "":
		return "Mastodon version unknown (schema " + v.Migration + ")"
	}
	return "Mastodon " + v.Mastodon + " (schema " + v.Migration + ")"
}

// releases maps Mastodon releases to the date they were published, as a migration version
// prefix: a schema whose latest migration is dated before a release's date (and after the
// previous one's) is that release's, or a development snapshot leading to it. Migrations of a
// release are dated before it, so this is exact for released versions and says "the next
// release" for main-branch snapshots.
var releases = []struct{ published, version string }{
	{"20170410", "1.2"},
	{"20170628", "1.4"},
	{"20170910", "1.6"},
	{"20171020", "2.0"},
	{"20180108", "2.1"},
	{"20180311", "2.3"},
	{"20180525", "2.4"},
	{"20180904", "2.5"},
	{"20181031", "2.6"},
	{"20190120", "2.7"},
	{"20190410", "2.8"},
	{"20190614", "2.9"},
	{"20191003", "3.0"},
	{"20200122", "3.1"},
	{"20200726", "3.2"},
	{"20201227", "3.3"},
	{"20210516", "3.4"},
	{"20220330", "3.5"},
	{"20221114", "4.0"},
	{"20230210", "4.1"},
	{"20230921", "4.2"},
	{"20241008", "4.3"},
	{"20250708", "4.4"},
	{"20251105", "4.5"},
	{"20260601", "4.6"},
}

// MastodonRelease returns the release a schema whose latest migration is migration belongs
// to, "" for one newer than every release s3sync knows.
func MastodonRelease(migration string) string {
	if len(migration) < 8 {
		return ""
	}
	day := migration[:8]
	for _, r := range releases {
		if day < r.published {
			return r.version
		}
	}
	return ""
}

// Version reads the latest applied migration from schema_migrations; a database without
// that table gives a zero SchemaVersion and no error.
func (r *Reader) Version(ctx context.Context) (SchemaVersion, error) {
	var v *string
	err := r.locked(func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT max(version)::text FROM "+pgx.Identifier{r.schema, "schema_migrations"}.Sanitize()).Scan(&v)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return SchemaVersion{}, nil
	}
	if err != nil {
		return SchemaVersion{}, fmt.Errorf("catalog: version: %w", err)
	}
	if v == nil {
		return SchemaVersion{}, nil
	}
	return SchemaVersion{Migration: *v, Mastodon: MastodonRelease(*v)}, nil
}
