package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
)

// The secrets of testdata/env.production: no output of init may show them.
const (
	testdataAWSSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	testdataDBPass    = "c0rrect#horse$battery"
)

// runInitCLI runs s3sync in-process with the given environment.
func runInitCLI(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return environ[k] }
	code := run(context.Background(), append([]string{"s3sync"}, args...), env{stdout: &out, stderr: &errb, getenv: getenv})
	return result{code, out.String(), errb.String()}
}

// assertNoSecrets fails when r's output shows any of secrets.
func assertNoSecrets(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Errorf("output shows the secret %q:\n%s", s, r)
		}
	}
}

// parseWritten parses the config init wrote, with the given environment.
func parseWritten(t *testing.T, path string, getenv func(string) string) *Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(bytes.NewReader(data), getenv)
	if err != nil {
		t.Fatalf("the written config does not parse: %v\n%s", err, data)
	}
	return cfg
}

// mastodonVarsWith is a working Mastodon S3 configuration plus overrides; a value "-" removes the key.
func mastodonVarsWith(over map[string]string) map[string]string {
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

// A mistake in Mastodon's environment (a *catalog.EnvError) is a usage error, exit 2, printed
// with the catalog's hint; from the process environment without S3_ENABLED, the hint is
// --from-env. Other errors pass as they are.
func TestInitEnvError(t *testing.T) {
	fileEnv := func(text string) catalog.Env {
		t.Helper()
		f, err := catalog.ParseEnvFile(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return catalog.FileEnv("test.env", f)
	}
	processEnv := func(vars map[string]string) catalog.Env {
		return catalog.ProcessEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	}
	const docsHint = "Try: move the media to a bucket as https://docs.joinmastodon.org/admin/optional/object-storage/ describes, then set S3_ENABLED=true\n"
	for _, tc := range []struct {
		name    string
		env     catalog.Env
		process bool
		want    string
	}{
		{"file without S3_ENABLED", fileEnv("S3_BUCKET=media\n"), false,
			"Error: test.env: S3_ENABLED is not set: Mastodon stores media on local disk; s3sync copies between buckets\n" + docsHint},
		{"file without bucket", fileEnv("S3_ENABLED=true\n"), false,
			"Error: test.env: S3_BUCKET is missing: name the bucket the media is in\nTry: S3_BUCKET=<the bucket's name>\n"},
		{"process without S3_ENABLED", processEnv(nil), true,
			"Error: the environment: S3_ENABLED is not set: Mastodon stores media on local disk; s3sync copies between buckets\n" +
				"Try: s3sync init --from-env /home/mastodon/live/.env.production\n"},
		{"process with S3_ENABLED=false", processEnv(map[string]string{"S3_ENABLED": "false"}), true,
			"Error: the environment: S3_ENABLED is \"false\", not true: Mastodon stores media on local disk; s3sync copies between buckets\n" + docsHint},
		{"process with Swift", processEnv(map[string]string{"SWIFT_ENABLED": "true"}), true,
			"Error: the environment: SWIFT_ENABLED=true: Mastodon stores media in OpenStack Swift, not in an S3 bucket; s3sync copies between S3 buckets\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := mastodonS3(tc.env, true)
			var stderr bytes.Buffer
			if code := exitCode(envUsageError(tc.env, tc.process, err), &stderr, runInfo{}); code != exitUsage || stderr.String() != tc.want {
				t.Errorf("exit %d:\n%s\nwant exit 2:\n%s", code, stderr.String(), tc.want)
			}
		})
	}
	other := fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
	if err := envUsageError(processEnv(nil), true, other); err != other {
		t.Errorf("another error became %v", err)
	}
}

// init --from-env testdata/env.production: the source and database as Mastodon has them, the
// destination to fill in, mode 0600 in a new 0700 directory, and no secret on the screen.
func TestInitFromEnvFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "private")
	out := filepath.Join(dir, "config.ini")
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", out)
	if r.code != exitOK {
		t.Fatalf("init: %s", r)
	}
	assertNoSecrets(t, r, testdataAWSSecret, testdataDBPass)
	for _, want := range []string{"wrote " + out + " (mode 0600) from testdata/env.production",
		"[s3.source]       bucket example-social-media at https://fsn1.your-objectstorage.com (region fsn1, path style)",
		"[pg.database]     mastodon_production as mastodon at /var/run/postgresql port 5432",
		"[s3.destination]  to fill in", "Unix socket directory",
		"next: fill in [s3.destination] in " + out + ", then run s3sync --config " + out + " check"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("warnings for a clean file:\n%s", r.stderr)
	}
	for path, want := range map[string]os.FileMode{out: 0o600, dir: 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in %s, want the config only", len(entries), dir)
	}

	// The destination is a section of empty keys: every command stops there, naming the key.
	data, _ := os.ReadFile(out)
	if _, err := ParseConfig(bytes.NewReader(data), noEnv); err == nil || !strings.Contains(err.Error(), "[s3.destination] access_key: is missing or empty") {
		t.Errorf("the written config with its destination to fill in: %v", err)
	}
	// Filled in, it parses, with everything Mastodon's file said.
	filled := strings.Replace(string(data), "[s3.destination]\naccess_key =\nsecret_key =\n", "[s3.destination]\naccess_key = NEWAK\nsecret_key = NEWSK\n", 1)
	filled = strings.Replace(filled, "bucket =\n", "bucket = new-media\n", 1)
	cfg, err := ParseConfig(strings.NewReader(filled), noEnv)
	if err != nil {
		t.Fatalf("filled in: %v\n%s", err, filled)
	}
	src, db, dst := cfg.Source, cfg.Database, cfg.Destination
	if src.AccessKey != "AKIAHETZNEREXAMPLE7Q" || src.SecretKey != testdataAWSSecret || src.Endpoint != "https://fsn1.your-objectstorage.com" ||
		src.Bucket != "example-social-media" || src.Region != "fsn1" || !src.PathStyle || src.KeyPrefix != "" {
		t.Errorf("source %+v", src)
	}
	if db.Host != "/var/run/postgresql" || db.Port != 5432 || db.User != "mastodon" || db.Password != testdataDBPass ||
		db.Database != "mastodon_production" || db.SSLMode != "prefer" {
		t.Errorf("database %+v", db)
	}
	if dst.ACL != "public-read" || dst.PublicURL != "" || dst.Region != "us-east-1" || cfg.ACLPolicy != aclPolicyFixed {
		t.Errorf("destination %+v", dst)
	}
	for _, want := range []string{"S3_ALIAS_HOST serves https://files.example.social from the old bucket today",
		"S3_FORCE_SINGLE_REQUEST=true: nothing to set", "from testdata/env.production"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("config lacks %q:\n%s", want, data)
		}
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("config warnings: %q", cfg.Warnings)
	}
}

// An existing file is replaced only with --force (exit 2 and a hint otherwise), atomically:
// no temporary file is left, and the mode is 0600 even over a file that had another.
func TestInitRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(out, []byte("; mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "Error: "+out+" exists; init does not overwrite it") ||
		!strings.Contains(r.stderr, "Try: add --force to replace it, or pass --output ANOTHER_FILE") {
		t.Fatalf("init over an existing file: %s", r)
	}
	if data, _ := os.ReadFile(out); string(data) != "; mine\n" {
		t.Errorf("the file changed: %q", data)
	}
	r = runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", out, "--force")
	if r.code != exitOK {
		t.Fatalf("init --force: %s", r)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after --force", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(out); !strings.Contains(string(data), "bucket = example-social-media") {
		t.Errorf("not replaced:\n%s", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in %s", len(entries), dir)
	}
	// The default output is --config's file.
	r = runInitCLI(t, nil, "--config", out, "init", "--from-env", "testdata/env.production")
	if r.code != exitUsage || !strings.Contains(r.stderr, out+" exists") {
		t.Errorf("init with --config of an existing file: %s", r)
	}
	// Never Mastodon's own file, not even with --force.
	envCopy := filepath.Join(dir, ".env.production")
	data, _ := os.ReadFile("testdata/env.production")
	if err := os.WriteFile(envCopy, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runInitCLI(t, nil, "init", "--from-env", envCopy, "--output", envCopy, "--force")
	if r.code != exitUsage || !strings.Contains(r.stderr, "is the --from-env file") {
		t.Errorf("init --output of the env file: %s", r)
	}
}

// --secrets env: no secret in the file, the variables to export printed without their values,
// and the file parses once they are set.
func TestInitSecretsEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "config.ini")
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", out, "--secrets", "env",
		"--dest-bucket", "new-media", "--dest-endpoint", "https://s3.new.example", "--dest-access-key", "NEWAK")
	if r.code != exitOK {
		t.Fatalf("init --secrets env: %s", r)
	}
	assertNoSecrets(t, r, testdataAWSSecret, testdataDBPass)
	data, _ := os.ReadFile(out)
	for _, secret := range []string{testdataAWSSecret, testdataDBPass} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the file holds %q:\n%s", secret, data)
		}
	}
	for _, want := range []string{"export S3SYNC_SOURCE_SECRET_KEY=…", "export S3SYNC_DESTINATION_SECRET_KEY=…", "export S3SYNC_PG_PASSWORD=…"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^secret_key =$`).Match(data) || !regexp.MustCompile(`(?m)^password =$`).Match(data) {
		t.Errorf("secret lines not empty:\n%s", data)
	}
	environ := map[string]string{"S3SYNC_SOURCE_SECRET_KEY": "S", "S3SYNC_DESTINATION_SECRET_KEY": "D", "S3SYNC_PG_PASSWORD": "P"}
	cfg := parseWritten(t, out, func(k string) string { return environ[k] })
	if cfg.Source.SecretKey != "S" || cfg.Destination.SecretKey != "D" || cfg.Database.Password != "P" {
		t.Errorf("secrets from the environment: %q %q %q", cfg.Source.SecretKey, cfg.Destination.SecretKey, cfg.Database.Password)
	}
	if d := cfg.Destination; d.Endpoint != "https://s3.new.example" || !d.PathStyle || d.Bucket != "new-media" || d.AccessKey != "NEWAK" {
		t.Errorf("destination %+v", d)
	}
}

// Without --from-env, the variables come from the environment (docker compose).
func TestInitFromProcessEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "config.ini")
	environ := mastodonVarsWith(map[string]string{"S3_ENDPOINT": "http://minio:9000", "AWS_SECRET_ACCESS_KEY": "ENVSECRET",
		"DB_HOST": "db", "DB_USER": "postgres", "DB_NAME": "postgres", "DB_PASS": "ENVPASS", "S3_KEY_PREFIX": "social"})
	r := runInitCLI(t, environ, "init", "--output", out)
	if r.code != exitOK {
		t.Fatalf("init from the environment: %s", r)
	}
	assertNoSecrets(t, r, "ENVSECRET", "ENVPASS")
	if !strings.Contains(r.stdout, "from the environment") || !strings.Contains(r.stdout, "docker compose service name") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	data, _ := os.ReadFile(out)
	for _, want := range []string{"endpoint_url = http://minio:9000", "key_prefix = social", "host = db", "user = postgres", "password = ENVPASS"} {
		if !strings.Contains(string(data), want+"\n") {
			t.Errorf("config lacks %q:\n%s", want, data)
		}
	}
	// Nothing set: the hint names --from-env.
	r = runInitCLI(t, nil, "init", "--output", filepath.Join(t.TempDir(), "c.ini"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "Error: the environment: S3_ENABLED is not set: Mastodon stores media on local disk; s3sync copies between buckets") ||
		!strings.Contains(r.stderr, "Try: s3sync init --from-env /home/mastodon/live/.env.production") {
		t.Errorf("init with an empty environment: %s", r)
	}
}

// --to-env and the --dest-* flags fill the destination; the flags win; what the new file
// leaves out (key prefix, permission) stays as Mastodon has it.
func TestInitDestination(t *testing.T) {
	dir := t.TempDir()
	toEnv := filepath.Join(dir, "new.env")
	if err := os.WriteFile(toEnv, []byte("S3_BUCKET=new-media\nS3_ENDPOINT=https://r2.example\nS3_REGION=auto\nS3_PERMISSION=\n"+
		"AWS_ACCESS_KEY_ID=R2AK\nAWS_SECRET_ACCESS_KEY=R2SECRET\nS3_ALIAS_HOST=media.example.social\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "old.env")
	if err := os.WriteFile(src, []byte("S3_ENABLED=true\nS3_BUCKET=old\nS3_KEY_PREFIX=inst1\nS3_PERMISSION=private\nAWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=OLDSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "config.ini")
	r := runInitCLI(t, nil, "init", "--from-env", src, "--to-env", toEnv, "--output", out)
	if r.code != exitOK {
		t.Fatalf("init --to-env: %s", r)
	}
	assertNoSecrets(t, r, "R2SECRET", "OLDSECRET")
	cfg := parseWritten(t, out, noEnv)
	d := cfg.Destination
	if d.Bucket != "new-media" || d.Endpoint != "https://r2.example" || d.Region != "auto" || !d.PathStyle || d.ACL != "" ||
		d.AccessKey != "R2AK" || d.SecretKey != "R2SECRET" || d.PublicURL != "https://media.example.social" || d.KeyPrefix != "inst1" {
		t.Errorf("destination from --to-env: %+v", d)
	}
	if !strings.Contains(r.stdout, "from --to-env "+toEnv) || !strings.Contains(r.stdout, "next: s3sync --config "+out+" check") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	r = runInitCLI(t, nil, "init", "--from-env", src, "--to-env", toEnv, "--output", out, "--force",
		"--dest-bucket", "other", "--dest-acl", "public-read", "--dest-path-style=false", "--dest-key-prefix", "", "--dest-public-url", "https://cdn.example/")
	if r.code != exitOK {
		t.Fatalf("init --to-env with flags: %s", r)
	}
	d = parseWritten(t, out, noEnv).Destination
	if d.Bucket != "other" || d.ACL != "public-read" || d.PathStyle || d.KeyPrefix != "" || d.PublicURL != "https://cdn.example" || d.Endpoint != "https://r2.example" {
		t.Errorf("destination from --to-env and flags: %+v", d)
	}

	// Flags alone: AWS in a region; the source's permission.
	r = runInitCLI(t, nil, "init", "--from-env", src, "--output", out, "--force",
		"--dest-bucket", "aws-media", "--dest-region", "eu-west-1", "--dest-access-key", "AK2", "--dest-secret-key", "FLAGSECRET")
	if r.code != exitOK {
		t.Fatalf("init --dest-*: %s", r)
	}
	assertNoSecrets(t, r, "FLAGSECRET", "OLDSECRET")
	d = parseWritten(t, out, noEnv).Destination
	if d.Bucket != "aws-media" || d.Endpoint != "" || d.Region != "eu-west-1" || d.PathStyle || d.ACL != "private" || d.KeyPrefix != "inst1" || d.SecretKey != "FLAGSECRET" {
		t.Errorf("destination from flags: %+v", d)
	}

	// Incomplete or the source itself: exit 2, nothing written.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dest-bucket", "x"}, "the destination has no access key: pass --dest-access-key"},
		{[]string{"--dest-access-key", "x", "--dest-secret-key", "y"}, "the destination has no bucket"},
		{[]string{"--dest-bucket", "x", "--dest-access-key", "y"}, "the destination has no secret key"},
		{[]string{"--dest-bucket", "old", "--dest-access-key", "y", "--dest-secret-key", "z"}, "source and destination are the same bucket"},
		{[]string{"--dest-bucket", "x", "--dest-access-key", "y", "--dest-secret-key", "z", "--dest-public-url", "files.example"}, "public_url"},
		{[]string{"--dest-bucket", "x", "--dest-access-key", "y", "--dest-secret-key", "z", "--dest-acl", "publik"}, "not a canned ACL"},
	} {
		fresh := filepath.Join(t.TempDir(), "config.ini")
		r := runInitCLI(t, nil, append([]string{"init", "--from-env", src, "--output", fresh}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("init %q: want exit 2 with %q, got %s", tc.args, tc.want, r)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("init %q wrote %s", tc.args, fresh)
		}
		assertNoSecrets(t, r, "OLDSECRET")
	}
}

// Mistakes in Mastodon's file are usage errors naming the variable, and never show a secret.
func TestInitErrors(t *testing.T) {
	const secret, pass = "TOPSECRETKEY", "pa55word"
	good := "S3_ENABLED=true\nS3_BUCKET=media\nAWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=" + secret + "\nDB_PASS=" + pass + "\n"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"local disk", strings.Replace(good, "S3_ENABLED=true", "S3_ENABLED=false", 1), `S3_ENABLED is "false", not true: Mastodon stores media on local disk; s3sync copies between buckets`},
		{"endpoint without bucket", strings.Replace(good, "S3_BUCKET=media", "S3_ENDPOINT=https://s3.example", 1), "S3_ENDPOINT is set but S3_BUCKET is not"},
		{"no keys", strings.Replace(good, "AWS_ACCESS_KEY_ID=AK", "", 1), "AWS_ACCESS_KEY_ID is missing"},
		{"bad DATABASE_URL", good + "DATABASE_URL=postgres://u:" + pass + "@db:notaport/m\n", "DATABASE_URL is not a postgres://user:password@host:port/database URL"},
		{"command", good + "S3_REGION=$(curl -s http://169.254.169.254/region)\n", "S3_REGION runs a command ($(…)); s3sync does not run commands"},
		{"bad sslmode", good + "DB_SSLMODE=on\n", `sslmode "on"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			envFile := filepath.Join(dir, ".env.production")
			if err := os.WriteFile(envFile, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "config.ini")
			r := runInitCLI(t, nil, "init", "--from-env", envFile, "--output", out)
			if r.code != exitUsage || !strings.Contains(r.stderr, "Error: "+envFile+": "+tc.want) {
				t.Errorf("want exit 2 with %q, got %s", tc.want, r)
			}
			assertNoSecrets(t, r, secret, pass)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a config was written")
			}
		})
	}
	// Unknown keys are ignored; lines that are not KEY=value and references to unset variables
	// are warned about, without their content.
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte(good+"WHATEVER=1\nthis line has "+secret+"\nS3_KEY_PREFIX=$PREFIX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runInitCLI(t, nil, "init", "--from-env", envFile, "--output", filepath.Join(dir, "config.ini"))
	if r.code != exitOK || !strings.Contains(r.stderr, "line(s) 7 are not KEY=value") || !strings.Contains(r.stderr, "S3_KEY_PREFIX refers to $PREFIX") ||
		strings.Contains(r.stderr, "WHATEVER") {
		t.Errorf("init with unknown keys: %s", r)
	}
	assertNoSecrets(t, r, secret, pass)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init", "--from-env", filepath.Join(dir, "nope")}, "no such file"},
		{[]string{"init", "--from-env", dir}, "is a directory"},
		{[]string{"init", "--secrets", "vault"}, `--secrets "vault" is neither value nor env`},
		{[]string{"init", ".env.production"}, "init takes no arguments"},
	} {
		r := runInitCLI(t, nil, tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: want exit 2 with %q, got %s", tc.args, tc.want, r)
		}
	}
}

// A secret that the INI file cannot hold as it is: init says so instead of writing another value.
func TestInitValueINICannotHold(t *testing.T) {
	for _, v := range []string{"a ;b", "#x", "`q` and \"d\"", "a\"b #c"} {
		if got := iniValue(v); got == v {
			t.Errorf("iniValue(%q) not quoted", v)
		}
	}
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	tricky := "S3_ENABLED=true\nS3_BUCKET=media\nAWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=\"  spaced  \"\nDB_PASS='semi ;colon #hash `tick`'\n"
	if err := os.WriteFile(envFile, []byte(tricky), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runInitCLI(t, nil, "init", "--from-env", envFile, "--output", filepath.Join(dir, "config.ini"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "[s3.source] secret_key (AWS_SECRET_ACCESS_KEY) cannot be written to an INI file") ||
		!strings.Contains(r.stderr, "Try: s3sync init --secrets env") {
		t.Errorf("secret with spaces at its ends: %s", r)
	}
	assertNoSecrets(t, r, "spaced", "colon")
	// With --secrets env it is not written at all; the password with ; # and ` survives quoting.
	tricky = strings.Replace(tricky, `"  spaced  "`, "plain", 1)
	if err := os.WriteFile(envFile, []byte(tricky), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "config2.ini")
	if r := runInitCLI(t, nil, "init", "--from-env", envFile, "--output", out); r.code != exitOK {
		t.Fatalf("init: %s", r)
	}
	data, _ := os.ReadFile(out)
	filled := strings.Replace(string(data), "[s3.destination]\naccess_key =\nsecret_key =\n", "[s3.destination]\naccess_key = A\nsecret_key = B\n", 1)
	filled = strings.Replace(filled, "bucket =\n", "bucket = new\n", 1)
	cfg, err := ParseConfig(strings.NewReader(filled), noEnv)
	if err != nil || cfg.Database.Password != "semi ;colon #hash `tick`" {
		t.Errorf("password read back: %v %q\n%s", err, cfg.Database.Password, filled)
	}
}

func TestInitHelp(t *testing.T) {
	r := runInitCLI(t, nil, "init", "--help")
	for _, want := range []string{"s3sync init [--from-env FILE]", "Example:", "s3sync init --from-env /home/mastodon/live/.env.production", "--to-env", "--dest-bucket", "--secrets"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("init --help lacks %q: %s", want, r)
		}
	}
}

// The "done when": init from a Mastodon .env.production (testdata/env.production with
// its bucket and database pointed at the test services) and the new provider's values gives a
// config that `s3sync check` accepts against the real S3 server and PostgreSQL; so do the
// --dest-* flags with --secrets env.
func TestInitThenCheck(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 2)
	setReadPolicy(t, s.s3, s.dst, "*") // visitors can read the destination (see TestCheckPublicRead)
	db := s.db.Config

	template, err := os.ReadFile("testdata/env.production")
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(s.dir, ".env.production")
	writeEnv(t, envFile, string(template), map[string]string{
		"S3_PROTOCOL": "http", "S3_ENDPOINT": s.s3.Endpoint, "S3_HOSTNAME": strings.TrimPrefix(s.s3.Endpoint, "http://"),
		"S3_BUCKET": s.src, "S3_REGION": s.s3.Region, "AWS_ACCESS_KEY_ID": s.s3.AccessKey, "AWS_SECRET_ACCESS_KEY": s.s3.SecretKey,
		"DB_HOST": db.Host, "DB_PORT": fmt.Sprint(db.Port), "DB_USER": db.User, "DB_PASS": db.Password, "DB_NAME": db.Database,
		"DB_SSLMODE": db.SSLMode,
	})
	toEnv := filepath.Join(s.dir, "new-provider.env")
	writeEnv(t, toEnv, "", map[string]string{
		"S3_ENDPOINT": s.dstServer().Endpoint, "S3_BUCKET": s.dst, "S3_REGION": s.dstServer().Region,
		"AWS_ACCESS_KEY_ID": s.dstServer().AccessKey, "AWS_SECRET_ACCESS_KEY": s.dstServer().SecretKey,
	})

	out := filepath.Join(s.dir, "private", "config.ini")
	r := runInitCLI(t, nil, "init", "--from-env", envFile, "--to-env", toEnv, "--output", out)
	if r.code != exitOK {
		t.Fatalf("init: %s", r)
	}
	assertNoSecrets(t, r, s.s3.SecretKey)
	r = runInitCLI(t, nil, "--config", out, "--checkpoint", s.checkpoint, "--log-level", "warn", "check")
	if r.code != exitOK || !strings.Contains(r.stdout, "all checks passed") {
		t.Fatalf("check of the config init wrote from --to-env:\n%s", r)
	}

	out2 := filepath.Join(s.dir, "config-flags.ini")
	r = runInitCLI(t, nil, "init", "--from-env", envFile, "--output", out2, "--secrets", "env",
		"--dest-endpoint", s.dstServer().Endpoint, "--dest-bucket", s.dst, "--dest-access-key", s.dstServer().AccessKey)
	if r.code != exitOK {
		t.Fatalf("init --dest-* --secrets env: %s", r)
	}
	secrets := map[string]string{"S3SYNC_SOURCE_SECRET_KEY": s.s3.SecretKey, "S3SYNC_DESTINATION_SECRET_KEY": s.dstServer().SecretKey,
		"S3SYNC_PG_PASSWORD": db.Password}
	r = runInitCLI(t, secrets, "--config", out2, "--checkpoint", s.checkpoint, "--log-level", "warn", "check")
	if r.code != exitOK || !strings.Contains(r.stdout, "all checks passed") {
		t.Fatalf("check of the config init wrote from --dest-* with --secrets env:\n%s", r)
	}
}

// writeEnv writes an environment file: template with the lines of the keys in set replaced
// (quoted as Mastodon's setup wizard quotes), and the keys it lacks appended.
func writeEnv(t *testing.T, path, template string, set map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(template, "\n"), "\n")
	if template == "" {
		lines = nil
	}
	done := map[string]bool{}
	quote := func(v string) string {
		if strings.ContainsAny(v, " \t#\\\"'$") {
			return "'" + v + "'"
		}
		return v
	}
	for i, l := range lines {
		key, _, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		if v, want := set[key]; ok && want {
			lines[i] = key + "=" + quote(v)
			done[key] = true
		}
	}
	for k, v := range set {
		if !done[k] {
			lines = append(lines, k+"="+quote(v))
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runInitLookup runs s3sync in-process with an environment that tells a variable set empty
// from an unset one, as os.LookupEnv does.
func runInitLookup(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdout: &out, stderr: &errb, getenv: func(k string) string { return environ[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := environ[k]; return v, ok }}
	code := run(context.Background(), append([]string{"s3sync"}, args...), e)
	return result{code, out.String(), errb.String()}
}

// initReference is the config init writes from testdata/env.production to a fresh file.
func initReference(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "reference.ini")
	if r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", out); r.code != exitOK {
		t.Fatalf("init: %s", r)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// --output - writes the config to standard output and nothing else there: the summary goes to
// standard error, and no file named "-" appears.
func TestInitOutputStdout(t *testing.T) {
	want := initReference(t)
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", "-")
	if r.code != exitOK {
		t.Fatalf("init --output -: %s", r)
	}
	if r.stdout != want {
		t.Errorf("stdout is not exactly the config:\n%s\nwant:\n%s", r.stdout, want)
	}
	for _, w := range []string{"wrote the config to standard output from testdata/env.production", "[s3.destination]  to fill in",
		"next: save the config as a file (mode 0600)"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	assertNoSecrets(t, result{stderr: r.stderr}, testdataAWSSecret, testdataDBPass)
	if _, err := os.Lstat("-"); err == nil {
		os.Remove("-")
		t.Errorf(`init --output - wrote a file named "-"`)
	}
	// --force changes nothing; the environment mode prints too.
	if r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", "-", "--force"); r.code != exitOK || r.stdout != want {
		t.Errorf("init --output - --force: %s", r)
	}
	environ := mastodonVarsWith(nil)
	if r := runInitLookup(t, environ, "init", "--output", "-"); r.code != exitOK || !strings.HasPrefix(r.stdout, "; s3sync configuration") ||
		!strings.Contains(r.stdout, "bucket = media\n") || strings.Contains(r.stdout, "wrote") {
		t.Errorf("init --output - from the environment: %s", r)
	}
}

// A FIFO, and a pipe reached through /dev/fd/N, are written in place: they stay what they are
// and the reader gets the config; no --force is needed, since nothing is replaced.
func TestInitOutputFIFO(t *testing.T) {
	want := initReference(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		data, _ := os.ReadFile(fifo) // waits for the writer
		got <- string(data)
	}()
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", fifo)
	if r.code != exitOK {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close() // release the reader
		}
		t.Fatalf("init --output FIFO: %s", r)
	}
	select {
	case data := <-got:
		if data != want {
			t.Errorf("the FIFO's reader got:\n%s\nwant:\n%s", data, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the FIFO's reader got nothing")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("%s is no longer a FIFO: %v %v", fifo, fi, err)
	}
	if r.stdout != "" || !strings.Contains(r.stderr, "wrote the config to "+fifo) {
		t.Errorf("the summary of a FIFO output goes to stderr: %s", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in %s, want the FIFO only", len(entries), dir)
	}

	// A pipe through /dev/fd/N (as /dev/stdout is when stdout is a pipe): /proc names it
	// "pipe:[…]", no path, and it is still written in place.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		data, _ := io.ReadAll(pr)
		got <- string(data)
	}()
	r = runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", fmt.Sprintf("/dev/fd/%d", pw.Fd()), "--force")
	pw.Close()
	if r.code != exitOK {
		t.Fatalf("init --output /dev/fd/N of a pipe: %s", r)
	}
	select {
	case data := <-got:
		if data != want {
			t.Errorf("the pipe's reader got:\n%s\nwant:\n%s", data, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pipe's reader got nothing")
	}
}

// A symlink is followed: its target is replaced atomically (with --force), mode 0600, and the
// link stays a link; without --force the target is left alone. A link to Mastodon's own file
// is refused even with --force.
func TestInitOutputSymlink(t *testing.T) {
	want := initReference(t)
	dir := t.TempDir()
	realDir := filepath.Join(dir, "real")
	if err := os.Mkdir(realDir, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(realDir, "config.ini")
	if err := os.WriteFile(target, []byte("; old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.ini")
	if err := os.Symlink(filepath.Join("real", "config.ini"), link); err != nil {
		t.Fatal(err)
	}
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", link)
	if r.code != exitUsage || !strings.Contains(r.stderr, link+" exists; init does not overwrite it") {
		t.Errorf("init over a link without --force: %s", r)
	}
	if data, _ := os.ReadFile(target); string(data) != "; old\n" {
		t.Errorf("the target changed without --force: %q", data)
	}
	r = runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", link, "--force")
	if r.code != exitOK || !strings.Contains(r.stdout, "wrote "+link+" (mode 0600)") {
		t.Fatalf("init --output LINK --force: %s", r)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink: %v %v", link, fi, err)
	}
	if dest, _ := os.Readlink(link); dest != filepath.Join("real", "config.ini") {
		t.Errorf("the link points to %q now", dest)
	}
	if data, _ := os.ReadFile(target); string(data) != want {
		t.Errorf("the target holds:\n%s", data)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("the target: %v %v, want a regular file of mode 0600", fi, err)
	}
	for d, n := range map[string]int{dir: 2, realDir: 1} {
		if entries, _ := os.ReadDir(d); len(entries) != n {
			t.Errorf("%d entries in %s, want %d (a temporary file left?)", len(entries), d, n)
		}
	}

	// A link to --from-env's file: refused, the file untouched.
	envCopy := filepath.Join(realDir, ".env.production")
	data, _ := os.ReadFile("testdata/env.production")
	if err := os.WriteFile(envCopy, data, 0o600); err != nil {
		t.Fatal(err)
	}
	envLink := filepath.Join(dir, "env-link.ini")
	if err := os.Symlink(envCopy, envLink); err != nil {
		t.Fatal(err)
	}
	r = runInitCLI(t, nil, "init", "--from-env", envCopy, "--output", envLink, "--force")
	if r.code != exitUsage || !strings.Contains(r.stderr, "is the --from-env file") {
		t.Errorf("init --output LINK-TO-ENV: %s", r)
	}
	if got, _ := os.ReadFile(envCopy); !bytes.Equal(got, data) {
		t.Errorf("Mastodon's file changed")
	}
	if fi, err := os.Lstat(envLink); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the env file was replaced: %v %v", fi, err)
	}
}

// A directory (or a link to one), a socket: exit 2 naming it, with or without --force.
func TestInitOutputNotAFile(t *testing.T) {
	dir := t.TempDir()
	dirLink := filepath.Join(dir, "dir-link")
	if err := os.Symlink(dir, dirLink); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{dir, dirLink} {
		for _, force := range []bool{false, true} {
			args := []string{"init", "--from-env", "testdata/env.production", "--output", out}
			if force {
				args = append(args, "--force")
			}
			r := runInitCLI(t, nil, args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "Error: --output "+out+" is a directory") {
				t.Errorf("init --output %s (force %v): %s", out, force, r)
			}
		}
	}
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("unix socket: %v", err)
	}
	defer ln.Close()
	r := runInitCLI(t, nil, "init", "--from-env", "testdata/env.production", "--output", sock, "--force")
	if r.code != exitUsage || !strings.Contains(r.stderr, "Error: --output "+sock+" is a socket, not a file") {
		t.Errorf("init --output SOCKET: %s", r)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the socket was replaced: %v %v", fi, err)
	}
}

// From the environment, a variable set empty reads as Mastodon reads it: S3_PERMISSION= sends
// no ACL (Mastodon's ENV.fetch('S3_PERMISSION') { 'public-read' } gives the empty string),
// unset is public-read.
// Without lookupEnv (getenv only) an empty variable still reads as unset.
func TestInitProcessEnvironmentEmptyVariable(t *testing.T) {
	acl := func(r result) string {
		t.Helper()
		if r.code != exitOK {
			t.Fatalf("init: %s", r)
		}
		m := regexp.MustCompile(`(?m)^acl =.*$`).FindString(r.stdout)
		if m == "" {
			t.Fatalf("no acl line:\n%s", r.stdout)
		}
		return m
	}
	empty := mastodonVarsWith(map[string]string{"S3_PERMISSION": ""})
	if got := acl(runInitLookup(t, empty, "init", "--output", "-")); got != "acl =" {
		t.Errorf("S3_PERMISSION set empty: %q, want no ACL", got)
	}
	if got := acl(runInitLookup(t, mastodonVarsWith(nil), "init", "--output", "-")); got != "acl = public-read" {
		t.Errorf("S3_PERMISSION unset: %q", got)
	}
	if got := acl(runInitLookup(t, mastodonVarsWith(map[string]string{"S3_PERMISSION": "private"}), "init", "--output", "-")); got != "acl = private" {
		t.Errorf("S3_PERMISSION=private: %q", got)
	}
	if got := acl(runInitCLI(t, empty, "init", "--output", "-")); got != "acl = public-read" {
		t.Errorf("without lookupEnv, an empty S3_PERMISSION: %q", got)
	}
	// A file written through the environment mode parses with acl empty.
	out := filepath.Join(t.TempDir(), "config.ini")
	if r := runInitLookup(t, empty, "init", "--output", out, "--dest-bucket", "new", "--dest-access-key", "A", "--dest-secret-key", "B",
		"--dest-endpoint", "https://s3.new.example"); r.code != exitOK {
		t.Fatalf("init: %s", r)
	}
	if cfg := parseWritten(t, out, noEnv); cfg.Destination.ACL != "" {
		t.Errorf("[s3.destination] acl %q, want empty", cfg.Destination.ACL)
	}
}
