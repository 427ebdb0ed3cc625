package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// versionTable is the releases table as the tests expect it: every final release from 3.0.0
// to 4.7.0 that Mastodon's CHANGELOG names, with the latest migration of its schema.
var versionTable = []struct{ version, migration string }{
	{"3.0.0", "20191001213028"}, {"3.0.1", "20191007013357"},
	{"3.1.0", "20200126203551"}, {"3.1.1", "20200126203551"}, {"3.1.2", "20200126203551"},
	{"3.1.3", "20200312185443"}, {"3.1.4", "20200510110808"}, {"3.1.5", "20200622213645"},
	{"3.2.0", "20200628133322"}, {"3.2.1", "20200628133322"}, {"3.2.2", "20200628133322"},
	{"3.3.0", "20201218054746"},
	{"3.4.0", "20210507001928"}, {"3.4.1", "20210526193025"}, {"3.4.2", "20210630000137"},
	{"3.4.3", "20210630000137"}, {"3.4.4", "20210630000137"}, {"3.4.5", "20210630000137"},
	{"3.4.6", "20210630000137"},
	{"3.5.0", "20220316233212"}, {"3.5.1", "20220316233212"}, {"3.5.2", "20220429101850"},
	{"3.5.3", "20220429101850"},
	{"4.0.0", "20221104133904"}, {"4.0.1", "20221104133904"}, {"4.0.2", "20221104133904"},
	{"4.1.0", "20221206114142"}, {"4.1.1", "20221206114142"}, {"4.1.2", "20221206114142"},
	{"4.1.3", "20221206114142"}, {"4.1.4", "20221206114142"}, {"4.1.5", "20221206114142"},
	{"4.1.6", "20221206114142"}, {"4.1.7", "20221206114142"}, {"4.1.8", "20221206114142"},
	{"4.2.0", "20230907150100"}, {"4.2.1", "20230907150100"}, {"4.2.2", "20230907150100"},
	{"4.2.3", "20230907150100"}, {"4.2.4", "20230907150100"}, {"4.2.5", "20230907150100"},
	{"4.2.6", "20230907150100"}, {"4.2.7", "20230907150100"}, {"4.2.8", "20230907150100"},
	{"4.2.9", "20230907150100"}, {"4.2.10", "20230907150100"}, {"4.2.11", "20230907150100"},
	{"4.3.0", "20241007071624"}, {"4.3.1", "20241007071624"}, {"4.3.2", "20241007071624"},
	{"4.3.3", "20241007071624"}, {"4.3.4", "20241007071624"}, {"4.3.5", "20241007071624"},
	{"4.3.6", "20241007071624"}, {"4.3.7", "20241007071624"}, {"4.3.8", "20241007071624"},
	{"4.4.0", "20250627132728"}, {"4.4.1", "20250627132728"}, {"4.4.2", "20250627132728"},
	{"4.4.3", "20250627132728"}, {"4.4.4", "20250627132728"}, {"4.4.5", "20250627132728"},
	{"4.4.6", "20250627132728"}, {"4.4.7", "20250627132728"}, {"4.4.8", "20250627132728"},
	{"4.5.0", "20251023210145"}, {"4.5.1", "20251023210145"}, {"4.5.2", "20251023210145"},
	{"4.5.3", "20251023210145"}, {"4.5.4", "20251023210145"}, {"4.5.5", "20251023210145"},
	{"4.5.6", "20251023210145"}, {"4.5.7", "20251023210145"}, {"4.5.8", "20251023210145"},
	{"4.5.9", "20251023210145"}, {"4.5.10", "20251023210145"}, {"4.5.11", "20251023210145"},
	{"4.6.0", "20260611150940"}, {"4.6.1", "20260611150940"}, {"4.6.2", "20260611150940"},
	{"4.6.3", "20260611150940"}, {"4.6.4", "20260611150940"}, {"4.6.5", "20260611150940"},
	{"4.6.6", "20260611150940"},
	{"4.7.0", "20260812154114"},
}

// versionTokens returns the release versions and series a description names ("4.2.0",
// "4.2", "4.2.x"), leaving out the schema number.
var versionToken = regexp.MustCompile(`\b\d+\.\d+(?:\.(?:\d+|x))?\b`)

func versionTokens(s string) []string {
	return versionToken.FindAllString(s, -1)
}

func TestVersionTable(t *testing.T) {
	if len(releases) != len(versionTable) {
		t.Fatalf("releases has %d entries, want %d", len(releases), len(versionTable))
	}
	for i, w := range versionTable {
		if r := releases[i]; r.version != w.version || r.migration != w.migration {
			t.Errorf("releases[%d] = %s %s, want %s %s", i, r.version, r.migration, w.version, w.migration)
		}
	}
	for i, r := range releases {
		if len(r.migration) != 14 || !isMigration(r.migration) {
			t.Errorf("%s: migration %q is not a 14-digit version", r.version, r.migration)
		}
		if i == 0 {
			continue
		}
		p := releases[i-1]
		if cmpVersion(p.version, r.version) >= 0 {
			t.Errorf("%s listed after %s", r.version, p.version)
		}
		if seriesOf(p.version) == seriesOf(r.version) && cmpMigration(p.migration, r.migration) > 0 {
			t.Errorf("%s has an older migration (%s) than %s (%s)", r.version, r.migration, p.version, p.migration)
		}
		if seriesOf(p.version) != seriesOf(r.version) && (!isDotZero(r.version) || r.how != read) {
			t.Errorf("series %s starts with %s, want a %s.0 read from main", seriesOf(r.version), r.version, seriesOf(r.version))
		}
	}
}

// TestVersionEveryRelease feeds every release's latest migration and checks String() names
// that release or its series, and no other series.
func TestVersionEveryRelease(t *testing.T) {
	for _, r := range versionTable {
		series := seriesOf(r.version)
		v := SchemaVersion{Migration: r.migration, Mastodon: MastodonRelease(r.migration)}
		s := v.String()
		if v.Mastodon != series {
			t.Errorf("%s: Mastodon = %q, want %q (%s)", r.version, v.Mastodon, series, s)
		}
		if !strings.HasPrefix(s, "Mastodon ") || !strings.Contains(s, "schema "+r.migration) {
			t.Errorf("%s: %q does not read \"Mastodon … (schema %s)\"", r.version, s, r.migration)
		}
		named := false
		for _, tok := range versionTokens(s) {
			if seriesOf(strings.TrimSuffix(tok, ".x")) != series {
				t.Errorf("%s: %q names series %s", r.version, s, tok)
			}
			named = named || tok == r.version
		}
		// the release itself, or a range of its series that holds it
		if !named && !strings.HasPrefix(s, "Mastodon "+series+" (") {
			if m := regexp.MustCompile(`(\d+\.\d+\.\d+) to (\d+\.\d+\.\d+)`).FindStringSubmatch(s); m == nil ||
				cmpVersion(m[1], r.version) > 0 || cmpVersion(m[2], r.version) < 0 {
				t.Errorf("%s: %q names neither it nor its series", r.version, s)
			}
		}
		for _, bad := range []string{"newer than", "older than", "unknown"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: %q says %q", r.version, s, bad)
			}
		}
		if ok, known := v.AtLeast(versionNums(r.version)[0], versionNums(r.version)[1]); !ok || !known {
			t.Errorf("%s: AtLeast(own series) = %v, %v", r.version, ok, known)
		}
	}
}

func TestVersionStrings(t *testing.T) {
	for m, want := range map[string]string{
		"20191001213028": "Mastodon 3.0.0 (schema 20191001213028)",
		"20200126203551": "Mastodon 3.1.0 to 3.1.2 (schema 20200126203551)",
		"20200510110808": "Mastodon 3.1.4 (schema 20200510110808)",
		"20200622213645": "Mastodon 3.1 (3.1.5 or a later 3.1.x patch release; schema 20200622213645)",
		"20200628133322": "Mastodon 3.2 (3.2.0 to 3.2.2 or a later 3.2.x patch release; schema 20200628133322)",
		"20210630000137": "Mastodon 3.4 (3.4.2 to 3.4.6 or a later 3.4.x patch release; schema 20210630000137)",
		"20220316233212": "Mastodon 3.5.0 or 3.5.1 (schema 20220316233212)",
		"20220429101850": "Mastodon 3.5 (3.5.2, 3.5.3 or a later 3.5.x patch release; schema 20220429101850)",
		"20221104133904": "Mastodon 4.0 (4.0.0 to 4.0.2 or a later 4.0.x patch release; schema 20221104133904)",
		"20230907150100": "Mastodon 4.2 (4.2.0 to 4.2.11 or a later 4.2.x patch release; schema 20230907150100)",
		"20260611150940": "Mastodon 4.6 (4.6.0 to 4.6.6 or a later 4.6.x patch release; schema 20260611150940)",
		"20260812154114": "Mastodon 4.7 (4.7.0 or a later 4.7.x patch release; schema 20260812154114)",
		"20240101000000": "Mastodon newer than 4.2.0, before 4.3.0 (schema 20240101000000): a 4.2.x patch release or a 4.3 development snapshot",
		"20200520000000": "Mastodon newer than 3.1.4, before 3.1.5 (schema 20200520000000): a 3.1.x patch release or a development snapshot",
		"20200625000000": "Mastodon newer than 3.1.4, before 3.2.0 (schema 20200625000000): a 3.1.x patch release or a 3.2 development snapshot",
		"20260812154115": "Mastodon newer than 4.7.0 (schema 20260812154115): a 4.7.x patch release or a newer Mastodon s3sync does not know",
		"20190913185907": "Mastodon older than 3.0.0 (schema 20190913185907), which s3sync does not support",
		"":               "Mastodon version unknown (no schema_migrations)",
		"latest":         "Mastodon version unknown (schema latest)",
	} {
		if got := (SchemaVersion{Migration: m}).String(); got != want {
			t.Errorf("String(%q) =\n  %q\nwant\n  %q", m, got, want)
		}
	}
}

// TestVersionBetween feeds a migration just after every migration of the table but the
// newest: it names no release, says "newer than" a release whose migration is older and
// "before" one whose migration is newer, and leaves the series uncertain.
func TestVersionBetween(t *testing.T) {
	after := regexp.MustCompile(`^Mastodon newer than (\S+), before (\S+) \(schema (\d+)\): a (\d+\.\d+)\.x patch release or a `)
	migrationOf := map[string]string{}
	var migs []string
	for _, r := range versionTable {
		migrationOf[r.version] = r.migration
		if len(migs) == 0 || migs[len(migs)-1] != r.migration {
			migs = append(migs, r.migration)
		}
	}
	for i := 0; i+1 < len(migs); i++ {
		n, _ := strconv.ParseInt(migs[i], 10, 64)
		m := strconv.FormatInt(n+1, 10)
		if m == migs[i+1] {
			continue
		}
		v := SchemaVersion{Migration: m, Mastodon: MastodonRelease(m)}
		s := v.String()
		if v.Mastodon != "" {
			t.Errorf("%s: Mastodon = %q, want \"\" (%s)", m, v.Mastodon, s)
		}
		g := after.FindStringSubmatch(s)
		if g == nil {
			t.Errorf("%s: %q does not read \"Mastodon newer than X, before Y (schema %s): …\"", m, s, m)
			continue
		}
		lower, upper := migrationOf[g[1]], migrationOf[g[2]]
		if lower == "" || cmpMigration(lower, m) >= 0 {
			t.Errorf("%s: %q: %s's migration %q is not older", m, s, g[1], lower)
		}
		if upper == "" || cmpMigration(upper, m) <= 0 {
			t.Errorf("%s: %q: %s's migration %q is not newer", m, s, g[2], upper)
		}
		if g[3] != m {
			t.Errorf("%s: %q names schema %s", m, s, g[3])
		}
		// the patch series is that of the newest release with the migration just below
		var below string
		for _, r := range versionTable {
			if r.migration == migs[i] {
				below = r.version
			}
		}
		if g[4] != seriesOf(below) {
			t.Errorf("%s: %q: patch series %s, want %s's", m, s, g[4], below)
		}
	}
}

func TestVersionNewerThanNewest(t *testing.T) {
	for _, m := range []string{"20260812154115", "20261001000000", "20991231235959", "120260812154114"} {
		v := SchemaVersion{Migration: m, Mastodon: MastodonRelease(m)}
		s := v.String()
		if !strings.Contains(s, "newer than 4.7") || !strings.Contains(s, "schema "+m) || v.Mastodon != "" {
			t.Errorf("%s: %q, Mastodon %q", m, s, v.Mastodon)
		}
		for _, tc := range []struct{ major, minor int }{{3, 0}, {4, 2}, {4, 7}} {
			if ok, known := v.AtLeast(tc.major, tc.minor); !ok || !known {
				t.Errorf("%s: AtLeast(%d, %d) = %v, %v, want true, true", m, tc.major, tc.minor, ok, known)
			}
		}
		if ok, known := v.AtLeast(4, 8); ok || known {
			t.Errorf("%s: AtLeast(4, 8) = %v, %v, want false, false", m, ok, known)
		}
	}
}

func TestVersionBefore30(t *testing.T) {
	for _, m := range []string{"20191001213027", "20190913185907", "20160220174730", "0"} {
		v := SchemaVersion{Migration: m, Mastodon: MastodonRelease(m)}
		s := v.String()
		if !strings.Contains(s, "older than 3.0") || !strings.Contains(s, "does not support") ||
			!strings.Contains(s, "schema "+m) || v.Mastodon != "" {
			t.Errorf("%s: %q, Mastodon %q", m, s, v.Mastodon)
		}
		if ok, known := v.AtLeast(3, 0); ok || !known {
			t.Errorf("%s: AtLeast(3, 0) = %v, %v, want false, true", m, ok, known)
		}
		if ok, known := v.AtLeast(2, 9); ok || known {
			t.Errorf("%s: AtLeast(2, 9) = %v, %v, want false, false", m, ok, known)
		}
	}
}

func TestVersionUnknown(t *testing.T) {
	for m, want := range map[string]string{
		"":         "Mastodon version unknown (no schema_migrations)",
		"2024-01":  "Mastodon version unknown (schema 2024-01)",
		" 2024010": "Mastodon version unknown (schema  2024010)",
	} {
		v := SchemaVersion{Migration: m, Mastodon: MastodonRelease(m)}
		if got := v.String(); got != want || v.Mastodon != "" {
			t.Errorf("%q: %q, Mastodon %q; want %q", m, got, v.Mastodon, want)
		}
		for _, tc := range []struct{ major, minor int }{{2, 0}, {3, 0}, {4, 2}, {9, 9}} {
			if ok, known := v.AtLeast(tc.major, tc.minor); ok || known {
				t.Errorf("%q: AtLeast(%d, %d) = %v, %v, want false, false", m, tc.major, tc.minor, ok, known)
			}
		}
	}
	if got := (SchemaVersion{}).String(); got != "Mastodon version unknown (no schema_migrations)" {
		t.Errorf("zero SchemaVersion: %q", got)
	}
}

func TestVersionAtLeast(t *testing.T) {
	var series [][2]int
	for _, r := range versionTable {
		if s := seriesNums(r.version); len(series) == 0 || series[len(series)-1] != s {
			series = append(series, s)
		}
	}
	// every release against every series
	for _, r := range versionTable {
		v := SchemaVersion{Migration: r.migration}
		for _, s := range series {
			want := cmpSeries(seriesNums(r.version), s) >= 0
			if ok, known := v.AtLeast(s[0], s[1]); ok != want || !known {
				t.Errorf("%s: AtLeast(%d, %d) = %v, %v, want %v, true", r.version, s[0], s[1], ok, known, want)
			}
		}
	}
	for _, tc := range []struct {
		migration    string
		major, minor int
		ok, known    bool
	}{
		{"20240101000000", 4, 2, true, true},  // a 4.2.x patch or 4.3 snapshot
		{"20240101000000", 4, 3, false, true}, // not a 4.3 release
		{"20240101000000", 3, 6, true, true},  // no 3.6: at least 4.0
		{"20220316233212", 3, 6, false, true}, // 3.5.0
		{"20221104133904", 3, 6, true, true},  // 4.0.0
		{"20221104133904", 3, 9, true, true},
		{"20191001213028", 2, 9, true, true}, // 3.0.0 is at least 2.9
		{"20191001213028", 1, 0, true, true},
		{"20260812154114", 4, 8, false, false}, // 4.7.0's schema: 4.8.0 cannot have less, may have the same
		{"20260611150940", 4, 8, false, true},  // 4.6.0 is not 4.8
		{"20260611150940", 5, 0, false, true},
		{"20260812154114", 4, 7, true, true},
		{"20260812154113", 4, 7, false, true}, // a 4.7 development snapshot
		{"", 3, 0, false, false},
	} {
		if ok, known := (SchemaVersion{Migration: tc.migration}).AtLeast(tc.major, tc.minor); ok != tc.ok || known != tc.known {
			t.Errorf("%q: AtLeast(%d, %d) = %v, %v, want %v, %v", tc.migration, tc.major, tc.minor, ok, known, tc.ok, tc.known)
		}
	}
}

// TestVersionSharedAcrossSeries checks describe on a table where a stable patch release and
// the next series' X.Y.0 share a migration: both are named, the series is left uncertain.
func TestVersionSharedAcrossSeries(t *testing.T) {
	table := []release{
		{"3.1.0", "20200126203551", read},
		{"3.1.4", "20200510110808", read},
		{"3.1.5", "20200628133322", backport},
		{"3.2.0", "20200628133322", read},
		{"3.2.1", "20201017234926", read},
	}
	s, series := describe("20200628133322", table)
	if want := "Mastodon 3.1.5 or a later 3.1.x patch release; or 3.2.0 (schema 20200628133322)"; s != want || series != "" {
		t.Errorf("describe = %q, %q; want %q, \"\"", s, series, want)
	}
	table = []release{
		{"3.1.0", "20200126203551", read},
		{"3.1.5", "20200628133322", read},
		{"3.1.6", "20201017234926", read},
		{"3.2.0", "20200628133322", read},
		{"3.2.1", "20201017234926", read},
	}
	s, series = describe("20200628133322", table)
	if want := "Mastodon 3.1.5 or 3.2.0 (schema 20200628133322)"; s != want || series != "" {
		t.Errorf("describe = %q, %q; want %q, \"\"", s, series, want)
	}
	if ok, known := atLeastIn("20200628133322", 3, 2, table); !ok || !known {
		t.Errorf("atLeastIn(3.2) = %v, %v", ok, known)
	}
}

func TestVersionCmpMigration(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"20200101000000", "20200101000000", 0},
		{"20200101000000", "20200101000001", -1},
		{"120200101000000", "20991231000000", 1},
		{"0020200101000000", "20200101000000", 0},
		{"9", "10", -1},
	} {
		if got := cmpMigration(tc.a, tc.b); (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("cmpMigration(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestVersionExamples prints the descriptions of the releases the lead engineer asked about.
func TestVersionExamples(t *testing.T) {
	for _, m := range []string{"20200628133322", "20220429101850", "20260611150940", "20260812154114", "20260901000000"} {
		t.Log(fmt.Sprint(SchemaVersion{Migration: m}))
	}
}
