package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `
[s3.source]
access_key = SRCACCESS
secret_key = SRCSECRET
endpoint_url = https://s3.old.example
bucket = old-media
region = eu-central-1

[s3.destination]
access_key = DSTACCESS
secret_key = DSTSECRET
endpoint_url = https://s3.new.example:9000
bucket = new-media
path_style = true
key_prefix = /mastodon/

[pg.database]
host = db.internal
port = 5433
user = mastodon
password = PGSECRET
database = mastodon_production

[sync]
concurrency = 8
retries = 2
checkpoint = /var/lib/s3sync/run.db
`

func noEnv(string) string { return "" }

func TestParseConfigGood(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(goodConfig), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Bucket != "old-media" || cfg.Source.Region != "eu-central-1" || cfg.Source.PathStyle {
		t.Errorf("source = %+v", cfg.Source)
	}
	if cfg.Destination.KeyPrefix != "mastodon" || !cfg.Destination.PathStyle || cfg.Destination.ACL != "public-read" {
		t.Errorf("destination = %+v", cfg.Destination)
	}
	if cfg.Database.Port != 5433 || cfg.Database.SSLMode != "prefer" || cfg.Database.Password != "PGSECRET" {
		t.Errorf("database = %#v", cfg.Database)
	}
	if cfg.Concurrency != 8 || cfg.Retries != 2 || cfg.checkpointPath("") != "/var/lib/s3sync/run.db" {
		t.Errorf("sync = %d %d %s", cfg.Concurrency, cfg.Retries, cfg.Checkpoint)
	}
	if !cfg.ContentMD5 {
		t.Error("content_md5 defaults to true")
	}
	if cfg.checkpointPath("x.db") != "x.db" {
		t.Error("--checkpoint must win over [sync] checkpoint")
	}
}

// The old tool's sample had [celery] and no [sync]; its concurrency carries over and its
// broker settings are ignored with a warning.
func TestParseConfigOldTool(t *testing.T) {
	old := strings.Replace(goodConfig, "[sync]\nconcurrency = 8\nretries = 2\ncheckpoint = /var/lib/s3sync/run.db\n",
		"[pg.tunnel]\nenabled = false\nssh_host = example\nssh_key = private/id_ed25519\nlocal_port = 5432\n\n[celery]\nbroker = redis://localhost:6379/0\nbackend = redis://localhost:6379/1\nconcurrency = 12\n", 1)
	cfg, err := ParseConfig(strings.NewReader(old), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Concurrency != 12 || cfg.Tunnel != nil {
		t.Errorf("concurrency %d tunnel %#v", cfg.Concurrency, cfg.Tunnel)
	}
	if len(cfg.Warnings) != 2 || !strings.Contains(cfg.Warnings[0], "[celery] broker") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
	if cfg.checkpointPath("") != defaultCheckpoint {
		t.Errorf("checkpoint = %q", cfg.checkpointPath(""))
	}
}

func TestParseConfigSecretsFromEnv(t *testing.T) {
	env := map[string]string{"S3SYNC_SOURCE_SECRET_KEY": "ENVSECRET", "S3SYNC_PG_PASSWORD": "ENVPG"}
	text := strings.Replace(goodConfig, "secret_key = SRCSECRET\n", "", 1)
	cfg, err := ParseConfig(strings.NewReader(text), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.SecretKey != "ENVSECRET" || cfg.Database.Password != "ENVPG" {
		t.Errorf("secrets not taken from env: %q %q", cfg.Source.SecretKey, cfg.Database.Password)
	}
}

func TestParseConfigEmptyACLSendsNone(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(strings.Replace(goodConfig, "path_style = true\n", "path_style = true\nacl =\n", 1)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Destination.ACL != "" {
		t.Errorf("acl = %q, want none", cfg.Destination.ACL)
	}
}

// badConfigs are edits of goodConfig that must fail, and what the error must say.
var badConfigs = []struct {
	name, from, to, want string
}{
	{"missing bucket", "bucket = old-media\n", "", "[s3.source] bucket: is missing"},
	{"missing access key", "access_key = DSTACCESS\n", "", "[s3.destination] access_key: is missing"},
	{"missing secret", "secret_key = SRCSECRET\n", "secret_key =\n", "[s3.source] secret_key: is missing"},
	{"bad url", "endpoint_url = https://s3.old.example\n", "endpoint_url = s3.old.example\n", "[s3.source] endpoint_url"},
	{"ftp url", "endpoint_url = https://s3.old.example\n", "endpoint_url = ftp://s3.old.example\n", "[s3.source] endpoint_url"},
	{"bad url port", "s3.new.example:9000", "s3.new.example:99999", "[s3.destination] endpoint_url"},
	{"no endpoint no region", "endpoint_url = https://s3.old.example\nbucket = old-media\nregion = eu-central-1\n", "bucket = old-media\n", "[s3.source] endpoint_url"},
	{"bad bool", "path_style = true", "path_style = maybe", "[s3.destination] path_style"},
	{"bad acl", "path_style = true\n", "path_style = true\nacl = world\n", "[s3.destination] acl"},
	{"bad port", "port = 5433", "port = postgres", "[pg.database] port"},
	{"port range", "port = 5433", "port = 70000", "[pg.database] port"},
	{"missing host", "host = db.internal\n", "", "[pg.database] host: is missing"},
	{"missing database", "database = mastodon_production\n", "", "[pg.database] database: is missing"},
	{"bad sslmode", "password = PGSECRET\n", "password = PGSECRET\nsslmode = sometimes\n", "[pg.database] sslmode"},
	{"bad concurrency", "concurrency = 8", "concurrency = 0", "[sync] concurrency"},
	{"bad retries", "retries = 2", "retries = -1", "[sync] retries"},
	{"same bucket", "endpoint_url = https://s3.new.example:9000\nbucket = new-media\npath_style = true\nkey_prefix = /mastodon/\n",
		"endpoint_url = https://s3.old.example\nbucket = old-media\n", "[s3.destination] bucket: source and destination are the same bucket"},
	{"not ini", "[s3.source]", "[s3.source", "not a valid INI file"},
	// A password in the endpoint is refused, and no message repeats it, even when the URL
	// does not parse or is wrong in another way too.
	{"password in source url", "endpoint_url = https://s3.old.example\n", "endpoint_url = https://SRCACCESS:SRCSECRET@s3.old.example\n",
		"[s3.source] endpoint_url: must not contain a user name or password"},
	{"user in destination url", "https://s3.new.example:9000", "https://DSTACCESS@s3.new.example:9000",
		"[s3.destination] endpoint_url: must not contain a user name or password"},
	{"password in unparsable url", "https://s3.new.example:9000", "https://u:DSTSECRET%zz@s3.new.example:9000",
		"[s3.destination] endpoint_url: must not contain a user name or password"},
	{"password with slash in url", "https://s3.new.example:9000", "https://u:DST/SECRET@s3.new.example:9000",
		"[s3.destination] endpoint_url: must not contain a user name or password"},
	{"password in url with bad port", "https://s3.new.example:9000", "https://u:DSTSECRET@s3.new.example:99999",
		"[s3.destination] endpoint_url: must not contain a user name or password"},
	{"password in url without scheme", "endpoint_url = https://s3.old.example\n", "endpoint_url = u:SRCSECRET@s3.old.example:9000\n",
		"[s3.source] endpoint_url: must not contain a user name or password"},
	{"password in ftp url", "endpoint_url = https://s3.old.example\n", "endpoint_url = ftp://u:SRCSECRET@s3.old.example\n",
		"[s3.source] endpoint_url: must not contain a user name or password"},
	{"bad min_rate", "retries = 2", "retries = 2\nmin_rate = fast", "[sync] min_rate"},
	{"min_rate below 1K", "retries = 2", "retries = 2\nmin_rate = 100", "[sync] min_rate"},
	{"bad min_time", "retries = 2", "retries = 2\nmin_time = soon", "[sync] min_time"},
	{"min_time below 1s", "retries = 2", "retries = 2\nmin_time = 100ms", "[sync] min_time"},
	{"min_time above 1h", "retries = 2", "retries = 2\nmin_time = 2h", "[sync] min_time"},
	{"bad acl_policy", "path_style = true\n", "path_style = true\nacl_policy = strict\n", "[s3.destination] acl_policy"},
	{"bad public_url", "path_style = true\n", "path_style = true\npublic_url = media.example.org\n", "[s3.destination] public_url"},
	{"bad remote_cache", "retries = 2", "retries = 2\nremote_cache = maybe", "[sync] remote_cache"},
	{"bad status_addr", "retries = 2", "retries = 2\nstatus_addr = localhost:http:x", "[sync] status_addr"},
}

// The per-attempt bounds: defaults, human sizes and durations.
func TestParseConfigMinRate(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(goodConfig), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinRate != 16<<10 || cfg.MinTime != time.Minute {
		t.Errorf("defaults: %d %s", cfg.MinRate, cfg.MinTime)
	}
	for _, c := range []struct {
		rate, time string
		wantRate   int64
		wantTime   time.Duration
	}{
		{"64K", "60s", 64 << 10, time.Minute},
		{"1M", "2m", 1 << 20, 2 * time.Minute},
		{"16KiB/s", "90", 16 << 10, 90 * time.Second},
		{"1024", "1s", 1024, time.Second},
		{"1G", "1h", 1 << 30, time.Hour},
	} {
		text := strings.Replace(goodConfig, "retries = 2", "retries = 2\nmin_rate = "+c.rate+"\nmin_time = "+c.time, 1)
		cfg, err := ParseConfig(strings.NewReader(text), noEnv)
		if err != nil {
			t.Errorf("%s %s: %v", c.rate, c.time, err)
			continue
		}
		if cfg.MinRate != c.wantRate || cfg.MinTime != c.wantTime {
			t.Errorf("%s %s: %d %s", c.rate, c.time, cfg.MinRate, cfg.MinTime)
		}
		if len(cfg.Warnings) != 0 {
			t.Errorf("warnings: %q", cfg.Warnings)
		}
	}
}

// Endpoints in messages never show user information, a query or a fragment, even when they
// do not parse; an endpoint without them is shown as written (a checkpoint records it).
func TestRedactLocation(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:7070 s3://media":            "http://127.0.0.1:7070 s3://media",
		"AWS S3 s3://media/prefix":                    "AWS S3 s3://media/prefix",
		"http://u:secret@127.0.0.1:7070 s3://media":   "http://127.0.0.1:7070 s3://media",
		"http://u:sec%zz@127.0.0.1:7070 s3://media/p": "http://…@127.0.0.1:7070 s3://media/p",
	} {
		if got := redactLocation(in); got != want {
			t.Errorf("redactLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each bad config names the section and key at fault and never echoes a secret.
func TestParseConfigErrors(t *testing.T) {
	for _, tc := range badConfigs {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(goodConfig, tc.from, tc.to, 1)
			if text == goodConfig {
				t.Fatalf("test case does not change the config: %q", tc.from)
			}
			_, err := ParseConfig(strings.NewReader(text), noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{"SRCSECRET", "DSTSECRET", "PGSECRET", "SRCACCESS", "DSTACCESS", "SECRET"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %s: %q", secret, err)
				}
			}
		})
	}
}

// Through the command line: a bad config exits 2 with "Error: config [section] key: ..."
// on one line, and a missing section is named too.
func TestConfigErrorsExitTwo(t *testing.T) {
	cases := []struct {
		name, text, want string
		args             []string
	}{
		{"missing source section", strings.Replace(goodConfig, "[s3.source]", "[s3.old]", 1), "[s3.source]: section is missing", []string{"copy"}},
		{"missing database section", strings.Replace(goodConfig, "[pg.database]", "[pg.db]", 1), "[pg.database]: section is missing", []string{"plan"}},
		{"bad port", strings.Replace(goodConfig, "port = 5433", "port = x", 1), "[pg.database] port", []string{"plan"}},
		{"tunnel without host", goodConfig + "\n[pg.tunnel]\nenabled = true\nssh_user = u\n", "[pg.tunnel] ssh_host: is missing", []string{"plan"}},
	}
	for _, bad := range badConfigs {
		want := strings.TrimPrefix(bad.want, "not a valid INI file")
		for _, cmd := range []string{"plan", "copy"} {
			cases = append(cases, struct {
				name, text, want string
				args             []string
			}{bad.name + " " + cmd, strings.Replace(goodConfig, bad.from, bad.to, 1), want, []string{cmd}})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.ini")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"s3sync", "--config", path, "--checkpoint", filepath.Join(t.TempDir(), "x.db")}, tc.args...),
				env{stdout: &out, stderr: &errb, getenv: noEnv})
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errb.String())
			}
			// Warnings may come first; the error itself is the last line, alone.
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "Error: config ") || !strings.Contains(last, tc.want) {
				t.Errorf("last line %q does not contain %q", last, tc.want)
			}
		})
	}
}

func TestConfigPathResolution(t *testing.T) {
	env := map[string]string{"CONFIG_FILE_NAME": "prod.ini"}
	if p, _ := configPath("", func(k string) string { return env[k] }); p != filepath.Join("private", "prod.ini") {
		t.Errorf("CONFIG_FILE_NAME: %s", p)
	}
	if p, _ := configPath("my.ini", func(k string) string { return env[k] }); p != "my.ini" {
		t.Errorf("--config: %s", p)
	}
	if p, explicit := configPath("", noEnv); p != defaultConfigPath || explicit {
		t.Errorf("default: %s", p)
	}
}

func TestMissingConfigFileExitsTwo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"s3sync", "--config", filepath.Join(t.TempDir(), "nope.ini"), "plan"},
		env{stdout: &out, stderr: &errb, getenv: noEnv})
	if code != exitUsage || !strings.Contains(errb.String(), "not found") || !strings.Contains(errb.String(), "Try: copy private/config.sample.ini") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

// The committed sample parses (with secrets filled in) and stays in sync with the parser.
func TestSampleConfigParses(t *testing.T) {
	data, err := os.ReadFile("../../private/config.sample.ini")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"S3SYNC_SOURCE_ACCESS_KEY": "a", "S3SYNC_SOURCE_SECRET_KEY": "b",
		"S3SYNC_DESTINATION_ACCESS_KEY": "c", "S3SYNC_DESTINATION_SECRET_KEY": "d"}
	cfg, err := ParseConfig(bytes.NewReader(data), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

// [pg.tunnel] parsing: every key, secrets from the environment, the local forward, and
// nothing at all when disabled.
func TestParseTunnelConfig(t *testing.T) {
	text := goodConfig + `
[pg.tunnel]
enabled = true
ssh_host = bastion.example
ssh_port = 2200
ssh_user = deploy
ssh_password = FILEPW
ssh_key = id_ed25519
ssh_key_passphrase = FILEPHRASE
known_hosts = /etc/ssh/ssh_known_hosts
local_port = 6543
`
	cfg, err := ParseConfig(strings.NewReader(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Tunnel
	if c == nil || c.Host != "bastion.example" || c.Port != 2200 || c.User != "deploy" || c.Password != "FILEPW" ||
		c.KeyFile != "id_ed25519" || c.KeyPassphrase != "FILEPHRASE" || c.KnownHosts != "/etc/ssh/ssh_known_hosts" ||
		c.LocalAddr != "127.0.0.1:6543" || c.InsecureIgnoreHostKey || len(cfg.Warnings) != 0 {
		t.Fatalf("tunnel %#v warnings %q", c, cfg.Warnings)
	}
	if s := fmt.Sprintf("%#v", *c); strings.Contains(s, "FILEPW") || strings.Contains(s, "FILEPHRASE") {
		t.Errorf("%%#v prints a secret: %s", s)
	}
	env := map[string]string{envSSHPassword: "ENVPW", envSSHKeyPassphrase: "ENVPHRASE"}
	cfg, err = ParseConfig(strings.NewReader(text+"local_host = ::1\ninsecure_ignore_host_key = yes\n"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Tunnel; c.Password != "ENVPW" || c.KeyPassphrase != "ENVPHRASE" || c.LocalAddr != "[::1]:6543" || !c.InsecureIgnoreHostKey {
		t.Errorf("tunnel %#v", c)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "insecure_ignore_host_key") {
		t.Errorf("warnings %q", cfg.Warnings)
	}

	// Disabled: the rest is not read, not even a bad port.
	cfg, err = ParseConfig(strings.NewReader(goodConfig+"[pg.tunnel]\nenabled = false\nssh_port = x\nlocal_host = 0.0.0.0\n"), noEnv)
	if err != nil || cfg.Tunnel != nil {
		t.Errorf("disabled tunnel: %#v %v", cfg, err)
	}

	for _, bad := range []struct{ lines, want string }{
		{"ssh_user = u\n", "[pg.tunnel] ssh_host: is missing"},
		{"ssh_host = h\n", "[pg.tunnel] ssh_user: is missing"},
		{"ssh_host = h\nssh_user = u\nssh_port = 0\n", "[pg.tunnel] ssh_port"},
		{"ssh_host = h\nssh_user = u\nlocal_host = 10.0.0.5\nlocal_port = 5432\n", "[pg.tunnel] local_host: \"10.0.0.5\" is not a loopback address"},
		{"ssh_host = h\nssh_user = u\nlocal_port = 99999\n", "[pg.tunnel] local_port"},
		{"ssh_host = h\nssh_user = u\ninsecure_ignore_host_key = sure\n", "[pg.tunnel] insecure_ignore_host_key"},
	} {
		_, err := ParseConfig(strings.NewReader(goodConfig+"[pg.tunnel]\nenabled = true\n"+bad.lines), noEnv)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.lines, err, bad.want)
		}
	}
}
