package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// An environment file read as the dotenv gem reads it (lib/dotenv/parser.rb).
func TestParseEnvFile(t *testing.T) {
	text := "# comment\n" +
		"\n" +
		"PLAIN=value\n" +
		"  INDENTED = spaced value   \n" +
		"export EXPORTED=yes\n" +
		"SINGLE='a #b $PLAIN \\n'\n" +
		"DOUBLE=\"a #b $PLAIN \\\"q\\\" \\$x\"\n" +
		"INLINE=abc # a comment\n" +
		"NOSPACE=abc#def\n" +
		"BRACED=${PLAIN}-x\n" +
		"EMPTY=\n" +
		"YAML: style\n" +
		"TWICE=1\n" +
		"TWICE=2\n" +
		"MULTI=\"line1\nline2\"\n" +
		"UNCLOSED='abc\n" +
		"ESCAPED=a\\\\b\n" +
		"MISSING=$NOPE/x\n" +
		"CMD=$(cat /etc/secret)\n" +
		"not a line\n" +
		"CRLF=windows\r\n" +
		"dotted.key=ok\n"
	f, err := ParseEnvFile(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, want string }{
		{"PLAIN", "value"},
		{"INDENTED", "spaced value"},
		{"EXPORTED", "yes"},
		{"SINGLE", `a #b $PLAIN \n`},
		{"DOUBLE", `a #b value "q" $x`},
		{"INLINE", "abc"},
		{"NOSPACE", "abc"},
		{"BRACED", "value-x"},
		{"EMPTY", ""},
		{"YAML", "style"},
		{"TWICE", "2"},
		{"MULTI", "line1\nline2"},
		{"UNCLOSED", "'abc"},
		{"ESCAPED", `a\b`},
		{"MISSING", "/x"},
		{"CMD", "$(cat /etc/secret)"},
		{"CRLF", "windows"},
		{"dotted.key", "ok"},
	} {
		if got, ok := f.Lookup(tc.key); !ok || got != tc.want {
			t.Errorf("%s = %q (set %v), want %q", tc.key, got, ok, tc.want)
		}
	}
	if len(f.vars) != 18 {
		t.Errorf("%d variables, want 18: %q", len(f.vars), f.vars)
	}
	if !f.commands["CMD"] || f.commands["PLAIN"] {
		t.Errorf("commands %v", f.commands)
	}
	if got := f.unset["MISSING"]; len(got) != 1 || got[0] != "NOPE" {
		t.Errorf("unset %v", f.unset)
	}
	if len(f.badLines) != 1 || f.badLines[0] != 21 {
		t.Errorf("bad lines %v, want [21]", f.badLines)
	}
}

// Check refuses a command substitution in a variable Mastodon's rules read, and warns about
// lines skipped and variables referred to but not set; the process environment has neither.
func TestEnvCheck(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		wantVar    string // the error's variable, "" = no error
		warnings   []string
	}{
		{"clean", "S3_BUCKET=media\nWHATEVER=$(ignored)\n", "", nil},
		{"command", "S3_REGION=$(curl -s http://169.254.169.254/region)\n", "S3_REGION", nil},
		{"unset and bad lines", "S3_KEY_PREFIX=$PREFIX\nthis line has a secret\nDB_HOST=${H}x$P\nnor this\n", "",
			[]string{"test.env: S3_KEY_PREFIX refers to $PREFIX, which the file does not set: read as empty",
				"test.env: DB_HOST refers to $H, $P, which the file does not set: read as empty",
				"test.env: line(s) 2, 4 are not KEY=value: ignored, as Mastodon ignores them"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseEnvFile(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := FileEnv("test.env", f).Check()
			var ee *EnvError
			switch {
			case tc.wantVar == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantVar != "" && (!errors.As(err, &ee) || ee.Var != tc.wantVar || ee.Hint != "put the value itself in the file" ||
				err.Error() != "test.env: "+tc.wantVar+" runs a command ($(…)); s3sync does not run commands"):
				t.Fatalf("error %#v, want an *EnvError for %s", err, tc.wantVar)
			}
			if strings.Join(warnings, "\n") != strings.Join(tc.warnings, "\n") {
				t.Errorf("warnings %q\nwant %q", warnings, tc.warnings)
			}
			if strings.Contains(strings.Join(warnings, "\n"), "secret") {
				t.Errorf("a warning shows a skipped line: %q", warnings)
			}
		})
	}
	if w, err := ProcessEnv(func(string) (string, bool) { return "$(x)", true }).Check(); w != nil || err != nil {
		t.Errorf("the process environment: %q %v", w, err)
	}
}

// testEnv is an environment file test.env holding vars.
func testEnv(vars map[string]string) Env {
	return FileEnv("test.env", &EnvFile{vars: vars, commands: map[string]bool{}, unset: map[string][]string{}})
}

// envVarsWith is a working Mastodon S3 configuration plus overrides; a value "-" removes the key.
func envVarsWith(over map[string]string) map[string]string {
	vars := map[string]string{"S3_ENABLED": "true", "S3_BUCKET": "media", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
	for k, v := range over {
		if v == "-" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	return vars
}

// The S3 variables as Mastodon's config/initializers/paperclip.rb reads them.
func TestEnvBucket(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		vars                     map[string]string
		endpoint, region, prefix string
		pathStyle                bool
		acl, publicURL, mediaURL string
		single                   bool
		warning                  string // a warning containing this, "" = none
	}{
		{name: "AWS defaults", vars: nil, region: "us-east-1", acl: "public-read",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media"},
		{name: "AWS region and hostname", vars: map[string]string{"S3_REGION": "eu-central-1", "S3_HOSTNAME": "s3.eu-central-1.amazonaws.com"},
			region: "eu-central-1", acl: "public-read", mediaURL: "https://s3.eu-central-1.amazonaws.com/media"},
		{name: "AWS hostname of another region", vars: map[string]string{"S3_REGION": "eu-central-1", "S3_HOSTNAME": "s3-eu-west-1.amazonaws.com"},
			region: "eu-central-1", acl: "public-read", mediaURL: "https://s3-eu-west-1.amazonaws.com/media",
			warning: "names region eu-west-1, S3_REGION is eu-central-1"},
		{name: "endpoint: path style", vars: map[string]string{"S3_ENDPOINT": "https://s3.wasabisys.com/", "S3_HOSTNAME": "s3.wasabisys.com"},
			endpoint: "https://s3.wasabisys.com", region: "us-east-1", pathStyle: true, acl: "public-read",
			mediaURL: "https://s3.wasabisys.com/media"},
		{name: "endpoint with S3_OVERRIDE_PATH_STYLE", vars: map[string]string{"S3_ENDPOINT": "https://nyc3.digitaloceanspaces.com", "S3_OVERRIDE_PATH_STYLE": "true", "S3_REGION": "nyc3"},
			endpoint: "https://nyc3.digitaloceanspaces.com", region: "nyc3", acl: "public-read",
			mediaURL: "https://s3-nyc3.amazonaws.com/media"},
		{name: "endpoint and a hostname of another host", vars: map[string]string{"S3_ENDPOINT": "http://minio:9000", "S3_HOSTNAME": "media.example.org", "S3_PROTOCOL": "http"},
			endpoint: "http://minio:9000", region: "us-east-1", pathStyle: true, acl: "public-read",
			mediaURL: "http://media.example.org/media", warning: "name different hosts"},
		{name: "endpoint and hostname with bucket and port", vars: map[string]string{"S3_ENDPOINT": "https://minio.example.org:9000", "S3_HOSTNAME": "media.minio.example.org:9000"},
			endpoint: "https://minio.example.org:9000", region: "us-east-1", pathStyle: true, acl: "public-read",
			mediaURL: "https://media.minio.example.org:9000/media"},
		{name: "endpoint without scheme", vars: map[string]string{"S3_ENDPOINT": "s3.example.org"},
			endpoint: "https://s3.example.org", region: "us-east-1", pathStyle: true, acl: "public-read",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media", warning: "has no scheme"},
		{name: "hostname without endpoint", vars: map[string]string{"S3_HOSTNAME": "s3.example.org"},
			region: "us-east-1", acl: "public-read", mediaURL: "https://s3.example.org/media",
			warning: "not an AWS host, but S3_ENDPOINT is unset"},
		{name: "key prefix", vars: map[string]string{"S3_KEY_PREFIX": "/mastodon/"}, region: "us-east-1", prefix: "mastodon", acl: "public-read",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media"},
		{name: "permission empty: no ACL", vars: map[string]string{"S3_PERMISSION": ""}, region: "us-east-1", acl: "",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media"},
		{name: "permission private", vars: map[string]string{"S3_PERMISSION": "private"}, region: "us-east-1", acl: "private",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media"},
		{name: "alias host", vars: map[string]string{"S3_ALIAS_HOST": "files.example.org", "S3_FORCE_SINGLE_REQUEST": "true"}, region: "us-east-1", acl: "public-read",
			publicURL: "https://files.example.org", mediaURL: "https://files.example.org", single: true},
		{name: "cloudfront host", vars: map[string]string{"S3_CLOUDFRONT_HOST": "d1.cloudfront.net/m/", "S3_PROTOCOL": "http"}, region: "us-east-1", acl: "public-read",
			publicURL: "http://d1.cloudfront.net/m", mediaURL: "http://d1.cloudfront.net/m"},
		{name: "signature v2", vars: map[string]string{"S3_SIGNATURE_VERSION": "s3"}, region: "us-east-1", acl: "public-read",
			mediaURL: "https://s3-us-east-1.amazonaws.com/media", warning: "signs with version 4 only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, warnings, err := testEnv(envVarsWith(tc.vars)).Bucket(true)
			if err != nil {
				t.Fatal(err)
			}
			if b.Endpoint != tc.endpoint || b.Region != tc.region || b.PathStyle != tc.pathStyle || b.KeyPrefix != tc.prefix ||
				b.Bucket != "media" || b.AccessKey != "AK" || b.SecretKey != "SK" {
				t.Errorf("bucket %+v", b)
			}
			if b.ACL != tc.acl || b.PublicURL != tc.publicURL || b.MediaURL != tc.mediaURL || b.SingleRequest != tc.single {
				t.Errorf("acl %q public %q media %q single %v", b.ACL, b.PublicURL, b.MediaURL, b.SingleRequest)
			}
			_, prefixSet := tc.vars["S3_KEY_PREFIX"]
			_, aclSet := tc.vars["S3_PERMISSION"]
			if b.KeyPrefixSet != prefixSet || b.ACLSet != aclSet {
				t.Errorf("key prefix set %v, ACL set %v", b.KeyPrefixSet, b.ACLSet)
			}
			joined := strings.Join(warnings, "\n")
			if (tc.warning == "") != (joined == "") || !strings.Contains(joined, tc.warning) {
				t.Errorf("warnings %q, want one with %q", warnings, tc.warning)
			}
		})
	}
}

// What s3sync cannot follow in the S3 variables is an *EnvError naming the variable, never
// showing a secret.
func TestEnvBucketErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantVar string
		want    string
	}{
		{"S3 disabled", map[string]string{"S3_ENABLED": "false"}, "S3_ENABLED", `S3_ENABLED is "false", not true: Mastodon stores media on local disk; s3sync copies between buckets`},
		{"S3 not enabled", map[string]string{"S3_ENABLED": "-"}, "S3_ENABLED", "S3_ENABLED is not set: Mastodon stores media on local disk"},
		{"S3 enabled in capitals", map[string]string{"S3_ENABLED": "TRUE"}, "S3_ENABLED", `S3_ENABLED is "TRUE", not true`},
		{"Swift", map[string]string{"S3_ENABLED": "-", "SWIFT_ENABLED": "true"}, "SWIFT_ENABLED", "OpenStack Swift"},
		{"endpoint without bucket", map[string]string{"S3_BUCKET": "-", "S3_ENDPOINT": "https://s3.example.org"}, "S3_BUCKET", "S3_ENDPOINT is set but S3_BUCKET is not"},
		{"hostname without bucket", map[string]string{"S3_BUCKET": "", "S3_HOSTNAME": "s3.example.org"}, "S3_BUCKET", "S3_HOSTNAME is set but S3_BUCKET is not"},
		{"no bucket", map[string]string{"S3_BUCKET": "-"}, "S3_BUCKET", "S3_BUCKET is missing"},
		{"no access key", map[string]string{"AWS_ACCESS_KEY_ID": "-"}, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID is missing"},
		{"no secret key", map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY is missing"},
		{"endpoint with password", map[string]string{"S3_ENDPOINT": "https://u:hunter2@s3.example.org"}, "S3_ENDPOINT", "must not contain a user name or password"},
		{"endpoint not http", map[string]string{"S3_ENDPOINT": "ftp://s3.example.org"}, "S3_ENDPOINT", "is not an http(s) URL"},
		{"bad permission", map[string]string{"S3_PERMISSION": "public"}, "S3_PERMISSION", `S3_PERMISSION "public" is not a canned ACL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := testEnv(envVarsWith(tc.vars)).Bucket(true)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "test.env: ") {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Var != tc.wantVar || ee.Env != "test.env" {
				t.Errorf("error %#v, want an *EnvError for %s", err, tc.wantVar)
			}
		})
	}
	// A file of the new provider's values may leave S3_ENABLED, the bucket and the keys out.
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantErr bool
	}{
		{"--to-env without S3_ENABLED", map[string]string{"S3_ENDPOINT": "https://s3.new.example"}, false},
		{"--to-env with S3_ENABLED=false", map[string]string{"S3_ENABLED": "false"}, true},
	} {
		if _, _, err := testEnv(tc.vars).Bucket(false); (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want one: %v", tc.name, err, tc.wantErr)
		}
	}
}

// The database variables as config/database.yml (production) and Rails's DATABASE_URL read them.
func TestEnvDatabase(t *testing.T) {
	def := DBConfig{Host: "localhost", Port: 5432, User: "mastodon", Database: "mastodon_production", SSLMode: "prefer"}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		want    DBConfig
		warning string
	}{
		{"defaults", nil, def, ""},
		{"wizard", map[string]string{"DB_HOST": "/var/run/postgresql", "DB_PORT": "5432", "DB_USER": "mastodon", "DB_NAME": "mastodon_production", "DB_PASS": ""},
			DBConfig{Host: "/var/run/postgresql", Port: 5432, User: "mastodon", Database: "mastodon_production", SSLMode: "prefer"}, ""},
		{"docker", map[string]string{"DB_HOST": "db", "DB_USER": "postgres", "DB_NAME": "postgres", "DB_PASS": "pw", "DB_SSLMODE": "disable"},
			DBConfig{Host: "db", Port: 5432, User: "postgres", Password: "pw", Database: "postgres", SSLMode: "disable"}, ""},
		{"DATABASE_URL", map[string]string{"DATABASE_URL": "postgresql://u:p%40ss@pg.example:6432/mdn?sslmode=require"},
			DBConfig{Host: "pg.example", Port: 6432, User: "u", Password: "p@ss", Database: "mdn", SSLMode: "require"}, ""},
		{"DATABASE_URL over DB_*", map[string]string{"DATABASE_URL": "postgres://u@pg.example/mdn", "DB_HOST": "other", "DB_PASS": "frompass", "DB_PORT": "5433"},
			DBConfig{Host: "pg.example", Port: 5433, User: "u", Password: "frompass", Database: "mdn", SSLMode: "prefer"},
			"DATABASE_URL names host pg.example, DB_HOST is other: DATABASE_URL wins"},
		{"DATABASE_URL with socket", map[string]string{"DATABASE_URL": "postgres:///mastodon_production?host=/var/run/postgresql&pool=5"},
			DBConfig{Host: "/var/run/postgresql", Port: 5432, User: "mastodon", Database: "mastodon_production", SSLMode: "prefer"},
			"parameter(s) pool ignored"},
		{"passwords differ", map[string]string{"DATABASE_URL": "postgres://u:one@h/d", "DB_PASS": "two"},
			DBConfig{Host: "h", Port: 5432, User: "u", Password: "one", Database: "d", SSLMode: "prefer"},
			"DATABASE_URL and DB_PASS give different passwords"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, warnings, err := testEnv(tc.vars).Database()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", db) != fmt.Sprintf("%+v", tc.want) || db.Password != tc.want.Password {
				t.Errorf("got %+v\nwant %+v", db, tc.want)
			}
			joined := strings.Join(warnings, "\n")
			if (tc.warning == "") != (joined == "") || !strings.Contains(joined, tc.warning) {
				t.Errorf("warnings %q, want one with %q", warnings, tc.warning)
			}
			for _, secret := range []string{"one", "two"} {
				if tc.name == "passwords differ" && strings.Contains(joined, secret) {
					t.Errorf("warning shows a password: %s", joined)
				}
			}
		})
	}
}

// What s3sync cannot follow in the database variables is an *EnvError naming the variable;
// no message shows DATABASE_URL's password.
func TestEnvDatabaseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantVar string
		want    []string
	}{
		{"bad scheme", map[string]string{"DATABASE_URL": "mysql://u:hunter2@h/d"}, "DATABASE_URL",
			[]string{"DATABASE_URL is not a postgres://", `the scheme is "mysql"`}},
		{"bad port", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h:99999/d"}, "DATABASE_URL",
			[]string{"DATABASE_URL is not a postgres://", "port"}},
		{"bad garbage", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h:x/d"}, "DATABASE_URL",
			[]string{"DATABASE_URL is not a postgres://", "invalid port"}},
		{"bad opaque", map[string]string{"DATABASE_URL": "postgres:u:hunter2@h"}, "DATABASE_URL",
			[]string{"DATABASE_URL is not a postgres://", "no // after the scheme"}},
		{"DB_PORT", map[string]string{"DB_PORT": "postgres"}, "DB_PORT", []string{`DB_PORT "postgres" is not a port`}},
		{"DB_SSLMODE", map[string]string{"DB_SSLMODE": "no-verify"}, "DB_SSLMODE", []string{`sslmode "no-verify"`}},
		{"sslmode in DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/d?sslmode=on", "DB_SSLMODE": "require"}, "DATABASE_URL",
			[]string{`sslmode "on" (DB_SSLMODE or DATABASE_URL)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := testEnv(tc.vars).Database()
			if err == nil {
				t.Fatalf("no error, want one with %q", tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one with %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Var != tc.wantVar || !strings.HasPrefix(err.Error(), "test.env: ") {
				t.Errorf("error %#v, want an *EnvError for %s", err, tc.wantVar)
			}
		})
	}
}

// S3 host names tell AWS from other providers, and the region they name.
func TestAWSS3HostRegion(t *testing.T) {
	for _, tc := range []struct {
		host, region string
		aws          bool
	}{
		{"s3.amazonaws.com", "us-east-1", true},
		{"s3-external-1.amazonaws.com", "us-east-1", true},
		{"s3-eu-west-1.amazonaws.com", "eu-west-1", true},
		{"s3.eu-central-1.amazonaws.com", "eu-central-1", true},
		{"media.s3.dualstack.ap-south-1.amazonaws.com", "ap-south-1", true},
		{"s3.cn-north-1.amazonaws.com.cn", "cn-north-1", true},
		{"media.s3-accelerate.amazonaws.com", "", true},
		{"S3.EU-WEST-2.AMAZONAWS.COM:443", "eu-west-2", true},
		{"s3.wasabisys.com", "", false},
	} {
		if region, aws := awsS3HostRegion(tc.host); region != tc.region || aws != tc.aws {
			t.Errorf("awsS3HostRegion(%q) = %q, %v; want %q, %v", tc.host, region, aws, tc.region, tc.aws)
		}
	}
}
