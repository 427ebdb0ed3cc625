package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SchemaVersion is what schema_migrations says about the Mastodon version of the database.
type SchemaVersion struct {
	Migration string // the latest migration applied, e.g. "20240909014637"; "" when unknown
	// Mastodon is the release series ("4.2", "3.1", "4.7") when the migration is the latest
	// migration of releases of that one series, "" when the series is not certain: a schema
	// between releases (a patch release s3sync does not know or a development snapshot),
	// newer than every release s3sync knows, older than 3.0, or unknown.
	Mastodon string
}

// String describes the Mastodon version the latest migration says, e.g.
// "Mastodon 3.1.0 to 3.1.2 (schema 20200126203551)",
// "Mastodon 4.2 (4.2.0 to 4.2.11 or a later 4.2.x patch release; schema 20230907150100)",
// "Mastodon newer than 4.2.0, before 4.3.0 (schema 20240101000000): a 4.2.x patch release or a 4.3 development snapshot",
// "Mastodon version unknown (no schema_migrations)". It depends on Migration only.
func (v SchemaVersion) String() string {
	text, _ := describe(v.Migration, releases)
	return text
}

// AtLeast returns whether the database's Mastodon is at least release series major.minor,
// and whether that could be decided (when not, the first result is false). A schema at or
// after the latest migration of major.minor.0 is at least major.minor, one before it is not;
// a series with no release (3.6) is decided as the next one (4.0). A schema newer than every
// release s3sync knows is at least any series up to the newest one, undecided for a newer
// series; a schema older than 3.0.0 is undecided for series before 3.0. No migration:
// undecided.
func (v SchemaVersion) AtLeast(major, minor int) (bool, bool) {
	return atLeastIn(v.Migration, major, minor, releases)
}

// MastodonRelease returns the release series ("4.2") a schema whose latest migration is
// migration certainly belongs to, "" when that is not certain (see SchemaVersion.Mastodon).
func MastodonRelease(migration string) string {
	_, series := describe(migration, releases)
	return series
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

// provenance says how a release's latest migration in the releases table was found.
type provenance int

const (
	// read: the X.Y.0 release, or a patch release cut from main; read from db/schema.rb
	// (and the files under db/migrate and db/post_migrate) at the release's "Bump version"
	// commit on main.
	read provenance = iota
	// backport: a patch release cut from a stable branch; X.Y.0's latest migration raised by
	// the migrations of the PRs the CHANGELOG lists for X.Y.1..X.Y.Z.
	backport
	// assumed: a patch release cut from a stable branch whose CHANGELOG (nor that of an
	// earlier patch of its series) lists no PR with a migration: assumed to have X.Y.0's
	// latest migration.
	assumed
)

// release is one final Mastodon release and the latest migration of its schema.
type release struct {
	version   string // "4.2.1"
	migration string // max(version) of schema_migrations of a database migrated to it
	how       provenance
}

// releases lists every final release from 3.0.0 on that Mastodon's CHANGELOG.md names, in
// version order, with its latest migration. How it was built (from a mirror of Mastodon's
// main branch, which has no stable-X.Y branch):
//
//   - X.Y.0 (read): db/schema.rb at main's "Bump version to X.Y.0" commit, which is the
//     release. 4.3.0 has no bump commit on main: its 20241007071624 is the newest migration
//     of the PRs its CHANGELOG lists (#32281).
//   - Patch releases whose "Bump version" commit on main has that version in
//     lib/mastodon/version.rb and whose migrations added on main since X.Y.0 are all those
//     of PRs listed in the X.Y.1..X.Y.Z CHANGELOG sections were cut from main (read):
//     3.0.1, 3.1.1-3.1.4, 3.4.1, 3.5.1-3.5.3, 4.0.1, 4.0.2, 4.1.1.
//   - Every other patch release was cut from a stable branch (main at its bump commit
//     already had next-series migrations, e.g. 3.1.5, 3.2.1, 3.4.5, 4.1.2-4.1.6, or
//     version.rb there named the next series, e.g. every 4.3.x to 4.6.x patch; or main has
//     no bump commit for it). Its latest migration is X.Y.0's raised by the migrations
//     (leading digits of files added under db/migrate or db/post_migrate by main's commit
//     "... (#N)") of every PR #N listed in the CHANGELOG sections X.Y.1..X.Y.Z (backport),
//     else X.Y.0's (assumed). The CHANGELOG sections come from main's newest CHANGELOG.md
//     that still has them (4.4.0 and later: HEAD; 4.3.x: #39394, just before #39395 trimmed
//     them; 4.0.0-4.2.11: the one of "Bump version to v4.5.7"; 3.x: #27440, 2023-10). All
//     but seven of the PRs those sections list are commits on main; the seven (#17425,
//     #17430, #24334, #25850, #27634, #28367, #35850) are, by their CHANGELOG lines, no
//     schema changes. No commit on main adding a migration since 2019 lacks a PR number, so
//     the security fixes (GHSA entries, "Merge commit from fork" on main) added none.
//
// Only 3.1.5 (20200622213645, #14254) and 3.4.2 (20210630000137, #16448) gain a migration
// from a backport; 3.4.3-3.4.6 inherit 3.4.2's. Releases main's CHANGELOG does not name
// (patch releases of a series made on its stable branch after main stopped listing them, as
// after 3.5.3, 4.1.8, 4.2.11 or 4.3.8, and patches after 4.7.0) are not in the table: each
// comes after its series' last listed release, so it has that release's migration or a newer
// one, which describe words for (see below).
//
// Within a series migrations only grow with the version, so releases sharing a migration
// are consecutive, and so far no two series share one.
var releases = []release{
	{"3.0.0", "20191001213028", read},
	{"3.0.1", "20191007013357", read},
	{"3.1.0", "20200126203551", read},
	{"3.1.1", "20200126203551", read},
	{"3.1.2", "20200126203551", read},
	{"3.1.3", "20200312185443", read},
	{"3.1.4", "20200510110808", read},
	{"3.1.5", "20200622213645", backport}, // #14254 (main at its bump has 3.2.0's 20200628133322)
	{"3.2.0", "20200628133322", read},
	{"3.2.1", "20200628133322", assumed}, // main at its bump has 3.3.0's 20201017234926
	{"3.2.2", "20200628133322", assumed},
	{"3.3.0", "20201218054746", read},
	{"3.4.0", "20210507001928", read},
	{"3.4.1", "20210526193025", read},
	{"3.4.2", "20210630000137", backport}, // #16448
	{"3.4.3", "20210630000137", backport},
	{"3.4.4", "20210630000137", backport},
	{"3.4.5", "20210630000137", backport}, // main at its bump has 3.5.0's 20220118183123
	{"3.4.6", "20210630000137", backport},
	{"3.5.0", "20220316233212", read},
	{"3.5.1", "20220316233212", read},
	{"3.5.2", "20220429101850", read}, // #18157, #18190: read and backport-derived agree
	{"3.5.3", "20220429101850", read},
	{"4.0.0", "20221104133904", read},
	{"4.0.1", "20221104133904", read},
	{"4.0.2", "20221104133904", read},
	{"4.1.0", "20221206114142", read},
	{"4.1.1", "20221206114142", read},    // main had 4.2 work by then, but no new migration
	{"4.1.2", "20221206114142", assumed}, // main at its bump has 4.2.0's 20230215074423
	{"4.1.3", "20221206114142", assumed},
	{"4.1.4", "20221206114142", assumed},
	{"4.1.5", "20221206114142", assumed},
	{"4.1.6", "20221206114142", assumed},
	{"4.1.7", "20221206114142", assumed},
	{"4.1.8", "20221206114142", assumed},
	{"4.2.0", "20230907150100", read},
	{"4.2.1", "20230907150100", assumed},
	{"4.2.2", "20230907150100", assumed},
	{"4.2.3", "20230907150100", assumed},
	{"4.2.4", "20230907150100", assumed},
	{"4.2.5", "20230907150100", assumed},
	{"4.2.6", "20230907150100", assumed},
	{"4.2.7", "20230907150100", assumed},
	{"4.2.8", "20230907150100", assumed},
	{"4.2.9", "20230907150100", assumed},
	{"4.2.10", "20230907150100", assumed},
	{"4.2.11", "20230907150100", assumed},
	{"4.3.0", "20241007071624", read},
	{"4.3.1", "20241007071624", assumed},
	{"4.3.2", "20241007071624", assumed},
	{"4.3.3", "20241007071624", assumed},
	{"4.3.4", "20241007071624", assumed},
	{"4.3.5", "20241007071624", assumed},
	{"4.3.6", "20241007071624", assumed},
	{"4.3.7", "20241007071624", assumed},
	{"4.3.8", "20241007071624", assumed},
	{"4.4.0", "20250627132728", read},
	{"4.4.1", "20250627132728", assumed},
	{"4.4.2", "20250627132728", assumed},
	{"4.4.3", "20250627132728", assumed},
	{"4.4.4", "20250627132728", assumed},
	{"4.4.5", "20250627132728", assumed},
	{"4.4.6", "20250627132728", assumed},
	{"4.4.7", "20250627132728", assumed},
	{"4.4.8", "20250627132728", assumed},
	{"4.5.0", "20251023210145", read},
	{"4.5.1", "20251023210145", assumed},
	{"4.5.2", "20251023210145", assumed},
	{"4.5.3", "20251023210145", assumed},
	{"4.5.4", "20251023210145", assumed},
	{"4.5.5", "20251023210145", assumed},
	{"4.5.6", "20251023210145", assumed},
	{"4.5.7", "20251023210145", assumed},
	{"4.5.8", "20251023210145", assumed},
	{"4.5.9", "20251023210145", assumed},
	{"4.5.10", "20251023210145", assumed},
	{"4.5.11", "20251023210145", assumed},
	{"4.6.0", "20260611150940", read},
	{"4.6.1", "20260611150940", assumed},
	{"4.6.2", "20260611150940", assumed},
	{"4.6.3", "20260611150940", assumed},
	{"4.6.4", "20260611150940", assumed},
	{"4.6.5", "20260611150940", assumed},
	{"4.6.6", "20260611150940", assumed},
	{"4.7.0", "20260812154114", read}, // #40138
}

// describe returns String's text for migration m and the series it certainly belongs to.
//
// The table is exact only where it was read from main; a derived (backport or assumed)
// entry could miss a migration backported without a CHANGELOG entry, and the releases after
// a series' last listed one are not in it. describe is therefore worded so that it cannot be
// wrong, only imprecise:
//
//   - m is the migration of some releases (a group): when that group is all read from main
//     and a later release of its series is known to have a newer migration, nothing else can
//     have m and the releases are named ("Mastodon 3.1.0 to 3.1.2 (schema …)"). Otherwise the
//     series leads ("Mastodon 4.2 (4.2.0 to 4.2.11 or a later 4.2.x patch release; schema
//     …)"): the series is certain (a patch release only adds migrations, and a derived entry
//     can only be too low, so the database is one of the group or an unlisted later patch),
//     the list is what the table knows. Releases of several series sharing m are all named.
//   - m between two table migrations a < m < b: "newer than L, before U" where U is the
//     first release with b (any entry: a derived one's true migration is at least b) and L
//     the newest release read from main with a migration at most a (a derived entry's true
//     migration could exceed m). It is a patch release of a's series s3sync does not know, or
//     a development snapshot (of U's series when U is an X.Y.0).
//   - m after the newest migration: "newer than" the newest release read from main.
//   - m before the oldest (3.0.0's): older than 3.0.0, which s3sync does not support.
func describe(m string, table []release) (text, series string) {
	switch {
	case m == "":
		return "Mastodon version unknown (no schema_migrations)", ""
	case !isMigration(m):
		return "Mastodon version unknown (schema " + m + ")", ""
	}
	var group []release
	for _, r := range table {
		if cmpMigration(r.migration, m) == 0 {
			group = append(group, r)
		}
	}
	if len(group) > 0 {
		return describeGroup(m, group, table)
	}

	var below, above *release // the entries with the closest migrations below and above m
	for i := range table {
		r := &table[i]
		switch c := cmpMigration(r.migration, m); {
		case c < 0 && (below == nil || cmpMigration(r.migration, below.migration) > 0 ||
			cmpMigration(r.migration, below.migration) == 0 && cmpVersion(r.version, below.version) > 0):
			below = r
		case c > 0 && (above == nil || cmpMigration(r.migration, above.migration) < 0 ||
			cmpMigration(r.migration, above.migration) == 0 && cmpVersion(r.version, above.version) < 0):
			above = r
		}
	}
	switch {
	case below == nil && above == nil:
		return "Mastodon version unknown (schema " + m + ")", ""
	case below == nil:
		return "Mastodon older than " + oldestOf(table).version + " (schema " + m + "), which s3sync does not support", ""
	}
	lower := newestReadAtMost(below.migration, table)
	if lower == nil {
		lower = below
	}
	if above == nil {
		return "Mastodon newer than " + lower.version + " (schema " + m + "): a " + seriesOf(below.version) +
			".x patch release or a newer Mastodon s3sync does not know", ""
	}
	what := "a " + seriesOf(below.version) + ".x patch release or a development snapshot"
	if isDotZero(above.version) && seriesOf(above.version) != seriesOf(below.version) {
		what = "a " + seriesOf(below.version) + ".x patch release or a " + seriesOf(above.version) + " development snapshot"
	}
	return "Mastodon newer than " + lower.version + ", before " + above.version + " (schema " + m + "): " + what, ""
}

// describeGroup is describe for the releases group sharing migration m (in version order).
func describeGroup(m string, group, table []release) (text, series string) {
	type part struct {
		series   string
		versions []string
		tail     bool // the group holds the newest release of series the table knows
		read     bool // every release of the part was read from main
	}
	var parts []*part
	for _, r := range group {
		s := seriesOf(r.version)
		if len(parts) == 0 || parts[len(parts)-1].series != s {
			parts = append(parts, &part{series: s, read: true})
		}
		p := parts[len(parts)-1]
		p.versions = append(p.versions, r.version)
		p.read = p.read && r.how == read
	}
	for _, p := range parts {
		p.tail = p.versions[len(p.versions)-1] == newestOfSeries(p.series, table)
	}
	list := func(p *part) string {
		v := p.versions
		var s string
		switch {
		case len(v) == 1:
			s = v[0]
		case len(v) == 2 && p.tail:
			s = v[0] + ", " + v[1]
		case len(v) == 2:
			s = v[0] + " or " + v[1]
		default:
			s = v[0] + " to " + v[len(v)-1]
		}
		if p.tail {
			s += " or a later " + p.series + ".x patch release"
		}
		return s
	}
	if len(parts) == 1 {
		p := parts[0]
		if p.read && !p.tail {
			return "Mastodon " + list(p) + " (schema " + m + ")", p.series
		}
		return "Mastodon " + p.series + " (" + list(p) + "; schema " + m + ")", p.series
	}
	names := make([]string, len(parts))
	sep := " or "
	for i, p := range parts {
		names[i] = list(p)
		if p.tail || len(p.versions) == 2 {
			sep = "; or "
		}
	}
	return "Mastodon " + strings.Join(names, sep) + " (schema " + m + ")", ""
}

// atLeastIn is SchemaVersion.AtLeast over table.
func atLeastIn(m string, major, minor int, table []release) (ok, known bool) {
	if !isMigration(m) || len(table) == 0 {
		return false, false
	}
	want := [2]int{major, minor}
	// the first release of the oldest series at least major.minor: releases of series in
	// between (none exist) cannot be, so "at least 3.6" is "at least 4.0".
	var target *release
	for i := range table {
		r := &table[i]
		if cmpSeries(seriesNums(r.version), want) >= 0 && (target == nil || cmpVersion(r.version, target.version) < 0) {
			target = r
		}
	}
	switch {
	case target == nil: // newer than every series the table knows
		newest := table[0]
		for _, r := range table {
			if cmpMigration(r.migration, newest.migration) > 0 {
				newest = r
			}
		}
		if cmpMigration(m, newest.migration) < 0 {
			return false, true
		}
		return false, false
	case target == oldestOf(table) && cmpSeries(seriesNums(target.version), want) > 0: // a series before the table's
		if cmpMigration(m, target.migration) >= 0 {
			return true, true
		}
		return false, false
	}
	return cmpMigration(m, target.migration) >= 0, true
}

// isMigration says whether m looks like a migration version: digits only.
func isMigration(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// cmpMigration compares two migration versions as numbers.
func cmpMigration(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// versionNums parses "4.2.10" into [4 2 10].
func versionNums(v string) []int {
	var n []int
	for _, f := range strings.Split(v, ".") {
		i, _ := strconv.Atoi(f)
		n = append(n, i)
	}
	return n
}

func cmpVersion(a, b string) int {
	x, y := versionNums(a), versionNums(b)
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	return len(x) - len(y)
}

func seriesNums(v string) [2]int {
	n := append(versionNums(v), 0, 0)
	return [2]int{n[0], n[1]}
}

func cmpSeries(a, b [2]int) int {
	if a[0] != b[0] {
		return a[0] - b[0]
	}
	return a[1] - b[1]
}

// seriesOf returns "4.2" for "4.2.10".
func seriesOf(v string) string {
	n := seriesNums(v)
	return strconv.Itoa(n[0]) + "." + strconv.Itoa(n[1])
}

func isDotZero(v string) bool {
	n := versionNums(v)
	return len(n) == 3 && n[2] == 0
}

// oldestOf returns the table's release with the oldest version.
func oldestOf(table []release) *release {
	var o *release
	for i := range table {
		if o == nil || cmpVersion(table[i].version, o.version) < 0 {
			o = &table[i]
		}
	}
	return o
}

// newestOfSeries returns the newest version of series s in table.
func newestOfSeries(s string, table []release) string {
	var n string
	for _, r := range table {
		if seriesOf(r.version) == s && (n == "" || cmpVersion(r.version, n) > 0) {
			n = r.version
		}
	}
	return n
}

// newestReadAtMost returns the newest release read from main whose migration is at most m.
func newestReadAtMost(m string, table []release) *release {
	var n *release
	for i := range table {
		r := &table[i]
		if r.how == read && cmpMigration(r.migration, m) <= 0 &&
			(n == nil || cmpMigration(r.migration, n.migration) > 0 ||
				cmpMigration(r.migration, n.migration) == 0 && cmpVersion(r.version, n.version) > 0) {
			n = r
		}
	}
	return n
}
