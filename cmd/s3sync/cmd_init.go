package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/internal/text"
	"github.com/s3sync/s3sync/storage"
)

// Values of init's --secrets.
const (
	secretsValue = "value" // secrets are written into the file (default)
	secretsEnv   = "env"   // secret keys stay empty; s3sync reads them from S3SYNC_* variables
)

// initOptions are init's flags.
type initOptions struct {
	fromEnv string // Mastodon's environment file; "" = the process environment
	toEnv   string // the new provider's values in Mastodon's names; "" = none
	output  string // "" = --config, else private/config.ini
	force   bool
	secrets string // secretsValue or secretsEnv
	dest    destOptions
}

// destOptions are the --dest-* flags; a field counts when its flag was given (set).
type destOptions struct {
	bucket, endpoint, region, accessKey, secretKey, publicURL, acl, keyPrefix string
	pathStyle                                                                 bool
	set                                                                       map[string]bool // flag names given
}

// destFlagNames are the --dest-* flags, in the order of [s3.destination].
var destFlagNames = []string{"dest-access-key", "dest-secret-key", "dest-endpoint", "dest-bucket", "dest-region",
	"dest-path-style", "dest-key-prefix", "dest-acl", "dest-public-url"}

func newInitCommand(g *globals) *cli.Command {
	var o initOptions
	return &cli.Command{
		Name:      "init",
		Usage:     "write a config from Mastodon's .env.production (or its environment)",
		UsageText: "s3sync init [--from-env FILE] [--output FILE] [--force] [--to-env FILE | --dest-* …] [--secrets value|env]",
		Description: "Fills [s3.source] and [pg.database] from Mastodon's variables (S3_BUCKET, S3_ENDPOINT,\n" +
			"S3_REGION, AWS_ACCESS_KEY_ID, DB_HOST, DATABASE_URL, …) read as Mastodon reads them; without\n" +
			"--from-env, from the environment (docker compose installs pass them so). [s3.destination] is\n" +
			"left for you to fill in, unless --to-env FILE (the new provider's values, in Mastodon's\n" +
			"names) or the --dest-* flags give it. The file is written mode 0600 (default\n" +
			"private/config.ini, or --config; --output - prints it); an existing one is replaced only\n" +
			"with --force, through a symlink if it is one. With --secrets env the secret keys and the\n" +
			"database password stay out of the file: set S3SYNC_SOURCE_SECRET_KEY,\n" +
			"S3SYNC_DESTINATION_SECRET_KEY and S3SYNC_PG_PASSWORD instead.\n" +
			"The README's \"Config from Mastodon's .env.production\" lists every variable's key.\n\n" +
			"Example:\n" +
			"  s3sync init --from-env /home/mastodon/live/.env.production\n" +
			"  s3sync init --from-env /home/mastodon/live/.env.production --to-env new-provider.env --secrets env\n" +
			"  s3sync init --from-env .env.production --dest-endpoint https://s3.new.example \\\n" +
			"      --dest-bucket media-new --dest-access-key AKIA… --dest-secret-key …\n" +
			"  s3sync check",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from-env", Usage: "Mastodon's environment `FILE` (/home/mastodon/live/.env.production)", DefaultText: "the environment", Destination: &o.fromEnv},
			&cli.StringFlag{Name: "output", Usage: "write the config to `FILE` (- for standard output; a symlink is followed, a FIFO or device written in place)", DefaultText: "--config, else " + defaultConfigPath, Destination: &o.output},
			&cli.BoolFlag{Name: "force", Usage: "replace the output file if it exists", Destination: &o.force},
			&cli.StringFlag{Name: "secrets", Value: secretsValue, Usage: "`MODE`: value writes the secrets into the file; env leaves them out, to be set as S3SYNC_* variables", Destination: &o.secrets},
			&cli.StringFlag{Name: "to-env", Usage: "the new provider's values in Mastodon's variable names (S3_BUCKET, S3_ENDPOINT, AWS_ACCESS_KEY_ID, …) in `FILE`: fills [s3.destination]", Destination: &o.toEnv},
			&cli.StringFlag{Name: "dest-access-key", Usage: "[s3.destination] access_key: `KEY`", Destination: &o.dest.accessKey},
			&cli.StringFlag{Name: "dest-secret-key", Usage: "[s3.destination] secret_key: `SECRET` (visible in ps and shell history: prefer --to-env or --secrets env)", Destination: &o.dest.secretKey},
			&cli.StringFlag{Name: "dest-endpoint", Usage: "[s3.destination] endpoint_url: `URL`, empty for AWS S3", Destination: &o.dest.endpoint},
			&cli.StringFlag{Name: "dest-bucket", Usage: "[s3.destination] bucket: `NAME`", Destination: &o.dest.bucket},
			&cli.StringFlag{Name: "dest-region", Usage: "[s3.destination] region: `REGION`", DefaultText: catalog.DefaultS3Region, Destination: &o.dest.region},
			&cli.BoolFlag{Name: "dest-path-style", Usage: "[s3.destination] path_style", DefaultText: "true with an endpoint, as Mastodon does with S3_ENDPOINT", Destination: &o.dest.pathStyle},
			&cli.StringFlag{Name: "dest-key-prefix", Usage: "[s3.destination] key_prefix: `PREFIX`", DefaultText: "the source's", Destination: &o.dest.keyPrefix},
			&cli.StringFlag{Name: "dest-acl", Usage: "[s3.destination] acl: a canned `ACL`, empty for none", DefaultText: "the source's S3_PERMISSION", Destination: &o.dest.acl},
			&cli.StringFlag{Name: "dest-public-url", Usage: "[s3.destination] public_url: the `URL` where visitors read the media after the switch", Destination: &o.dest.publicURL},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("s3sync init --from-env "+shellQuote(c.Args().First()), "init takes no arguments, got %q", c.Args().First())
			}
			o.dest.set = map[string]bool{}
			for _, name := range destFlagNames {
				o.dest.set[name] = c.IsSet(name)
			}
			return runInit(g, o)
		},
	}
}

// initResult is what init writes: the config's sections and what the output says about them.
type initResult struct {
	origin       string // where the source's values come from, for comments
	source       mastodonBucket
	db           catalog.DBConfig
	dest         *storage.Config // nil: a template for the admin
	destACL      string
	destOrigin   string // "--to-env FILE", "the --dest-* flags", or both
	secretsEnv   bool
	passwordUsed bool // the database has a password (else --secrets env has none to move)
}

func runInit(g *globals, o initOptions) error {
	if o.secrets != secretsValue && o.secrets != secretsEnv {
		return usageErrorf("--secrets env", "--secrets %q is neither value nor env", o.secrets)
	}
	out := o.output
	if out == "" {
		out, _ = configPath(g.configFlag, g.getenv)
	}
	inPlace, err := refuseOutput(out, o, g.stdout)
	if err != nil {
		return err
	}

	var warnings []string
	src := catalog.ProcessEnv(g.lookup)
	if o.fromEnv != "" {
		f, err := readEnvFile("--from-env", o.fromEnv)
		if err != nil {
			return err
		}
		src = catalog.FileEnv(o.fromEnv, f)
	}
	w, err := src.Check()
	if err != nil {
		return envUsageError(src, o.fromEnv == "", err)
	}
	warnings = append(warnings, w...)
	r := initResult{origin: src.Name(), secretsEnv: o.secrets == secretsEnv}
	if r.source, w, err = mastodonS3(src, true); err != nil {
		return envUsageError(src, o.fromEnv == "", err)
	}
	warnings = append(warnings, w...)
	if r.db, w, err = src.Database(); err != nil {
		return envUsageError(src, o.fromEnv == "", err)
	}
	warnings = append(warnings, w...)
	r.passwordUsed = r.db.Password != ""
	r.destACL = r.source.ACL
	if w, err = r.destination(o); err != nil {
		return err
	}
	warnings = append(warnings, w...)
	if r.secretsEnv && o.dest.set["dest-secret-key"] {
		warnings = append(warnings, "--dest-secret-key is not written with --secrets env: set S3SYNC_DESTINATION_SECRET_KEY instead")
	}

	text, err := r.render()
	if err != nil {
		return err
	}
	w, err = writeConfig(g, out, []byte(text), inPlace, o.force)
	if err != nil {
		return err
	}
	if !r.secretsEnv {
		warnings = append(warnings, w...)
	}
	for _, w := range warnings {
		g.log.Warn().Msg(w)
	}
	r.printSummary(g, out, inPlace)
	return nil
}

// lookup returns a variable of the environment and whether it is set, also when it is set
// empty; without lookupEnv (tests), it is set when getenv gives it non-empty.
func (e env) lookup(key string) (string, bool) {
	if e.lookupEnv != nil {
		return e.lookupEnv(key)
	}
	v := e.getenv(key)
	return v, v != ""
}

// mastodonBucket is a bucket as Mastodon's variables give it, with the keys of an [s3.*]
// section in S3.
type mastodonBucket struct {
	catalog.EnvBucket
	// S3 holds access_key, secret_key, endpoint_url, bucket, region, path_style and key_prefix.
	S3 storage.Config
}

// mastodonS3 reads the bucket of e (catalog.Env.Bucket) and maps it to an [s3.*] section.
func mastodonS3(e catalog.Env, current bool) (mastodonBucket, []string, error) {
	b, warnings, err := e.Bucket(current)
	if err != nil {
		return mastodonBucket{}, nil, err
	}
	return mastodonBucket{EnvBucket: b, S3: storage.Config{
		AccessKey: b.AccessKey,
		SecretKey: b.SecretKey,
		Endpoint:  b.Endpoint,
		Bucket:    b.Bucket,
		Region:    b.Region,
		PathStyle: b.PathStyle,
		KeyPrefix: b.KeyPrefix,
	}}, warnings, nil
}

// envUsageError turns a *catalog.EnvError, a mistake in Mastodon's environment e, into a usage
// error (exit 2) with its hint; other errors are returned as they are. process says e is the
// process environment: there, no S3_ENABLED at all most likely means init runs outside
// Mastodon's environment, and the hint is to read Mastodon's file instead.
func envUsageError(e catalog.Env, process bool, err error) error {
	var ee *catalog.EnvError
	if !errors.As(err, &ee) {
		return err
	}
	hint := ee.Hint
	if _, set := e.Lookup("S3_ENABLED"); process && !set && ee.Var == "S3_ENABLED" {
		hint = "s3sync init --from-env /home/mastodon/live/.env.production"
	}
	return usageErrorf(hint, "%s", ee.Error())
}

// readEnvFile parses an environment file named by flag, with the mistakes an admin makes
// as usage errors.
func readEnvFile(flag, path string) (*catalog.EnvFile, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf(flag+" /home/mastodon/live/.env.production", "%s %s: no such file (Mastodon's is .env.production in its directory, /home/mastodon/live on a standard install)", flag, path)
	case errors.Is(err, fs.ErrPermission):
		return nil, usageErrorf("sudo -u mastodon s3sync init "+flag+" "+shellQuote(path)+" …, or copy the file somewhere you can read it",
			"%s %s: permission denied (the file is usually readable by the mastodon user only)", flag, path)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, usageErrorf(flag+" "+shellQuote(filepath.Join(path, ".env.production")), "%s %s is a directory, not an environment file", flag, path)
	}
	d, err := catalog.ParseEnvFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return d, nil
}

// refuseOutput refuses an output init must not write: one of the input files, however it is
// reached (a link, another spelling); a directory, or anything but a regular file, a character
// device or a FIFO; an existing file without --force. inPlace is true for what is written in
// place and needs no --force: "-" (standard output), a character device or a FIFO
// (/dev/stdout, /dev/fd/1, a pipe), and a name under /dev or /proc that reaches a regular file
// (/dev/stdout redirected to one).
func refuseOutput(out string, o initOptions, stdout io.Writer) (inPlace bool, err error) {
	var fi os.FileInfo
	target, special := "", false
	if out == "-" {
		if f, ok := stdout.(*os.File); ok {
			fi, _ = f.Stat()
		}
	} else {
		target, special = resolveOutput(out)
		if fi, err = os.Stat(out); err != nil {
			if _, lerr := os.Lstat(out); lerr == nil && !o.force {
				return false, usageErrorf("add --force to replace it, or pass --output ANOTHER_FILE", "%s exists (a dangling link); init does not overwrite it", out)
			}
			return false, nil
		}
	}
	for _, in := range []struct{ flag, path string }{{"--from-env", o.fromEnv}, {"--to-env", o.toEnv}} {
		if in.path == "" || fi == nil {
			continue
		}
		ii, err := os.Stat(in.path)
		if err != nil || !ii.Mode().IsRegular() { // a device both read and written (a terminal) is not replaced
			continue
		}
		if os.SameFile(fi, ii) || (out != "-" && sameFile(out, target, in.path)) {
			name := out
			if out == "-" {
				name = "- (standard output)"
			}
			return false, usageErrorf("--output "+defaultConfigPath, "--output %s is the %s file: init must not replace Mastodon's environment", name, in.flag)
		}
	}
	if out == "-" {
		return true, nil
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		return false, usageErrorf("--output "+shellQuote(filepath.Join(out, "config.ini")), "--output %s is a directory", out)
	case mode&os.ModeCharDevice != 0, mode&os.ModeNamedPipe != 0:
		return true, nil
	case !mode.IsRegular():
		return false, usageErrorf("--output "+defaultConfigPath, "--output %s is %s, not a file: init writes a regular file, a FIFO or a character device (- for standard output)", out, fileKind(mode))
	case special:
		return true, nil
	case !o.force:
		return false, usageErrorf("add --force to replace it, or pass --output ANOTHER_FILE", "%s exists; init does not overwrite it", out)
	}
	return false, nil
}

// fileKind names what a file that is neither regular, a directory, a FIFO nor a character
// device is.
func fileKind(mode os.FileMode) string {
	switch {
	case mode&os.ModeSocket != 0:
		return "a socket"
	case mode&os.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

// destination fills r.dest from --to-env and the --dest-* flags (the flags win); without
// either it stays nil, a template.
func (r *initResult) destination(o initOptions) ([]string, error) {
	anyFlag := false
	for _, name := range destFlagNames {
		anyFlag = anyFlag || o.dest.set[name]
	}
	if o.toEnv == "" && !anyFlag {
		return nil, nil
	}
	var warnings []string
	var to mastodonBucket
	var origins []string
	if o.toEnv != "" {
		f, err := readEnvFile("--to-env", o.toEnv)
		if err != nil {
			return nil, err
		}
		e := catalog.FileEnv(o.toEnv, f)
		if warnings, err = e.Check(); err != nil {
			return nil, envUsageError(e, false, err)
		}
		var w []string
		if to, w, err = mastodonS3(e, false); err != nil {
			return nil, envUsageError(e, false, err)
		}
		warnings = append(warnings, w...)
		origins = append(origins, "--to-env "+o.toEnv)
	} else {
		to.S3.Region = catalog.DefaultS3Region
	}
	if anyFlag {
		origins = append(origins, "the --dest-* flags")
	}
	r.destOrigin = strings.Join(origins, " and ")

	dst := to.S3
	// What the new file does not say stays as Mastodon has it now: the admin changes only the
	// variables that differ.
	if !to.KeyPrefixSet {
		dst.KeyPrefix = r.source.S3.KeyPrefix
	}
	r.destACL = r.source.ACL
	if to.ACLSet {
		r.destACL = to.ACL
	}
	dst.PublicURL = to.PublicURL
	f := o.dest
	if f.set["dest-access-key"] {
		dst.AccessKey = f.accessKey
	}
	if f.set["dest-secret-key"] {
		dst.SecretKey = f.secretKey
	}
	if f.set["dest-endpoint"] {
		if dst.Endpoint == "" {
			dst.PathStyle = true // as Mastodon with S3_ENDPOINT (S3_OVERRIDE_PATH_STYLE unset)
		}
		dst.Endpoint = strings.TrimRight(strings.TrimSpace(f.endpoint), "/")
		if dst.Endpoint == "" {
			dst.PathStyle = false
		}
	}
	if f.set["dest-bucket"] {
		dst.Bucket = strings.TrimSpace(f.bucket)
	}
	if f.set["dest-region"] {
		dst.Region = strings.TrimSpace(f.region)
	}
	if f.set["dest-path-style"] {
		dst.PathStyle = f.pathStyle
	}
	if f.set["dest-key-prefix"] {
		dst.KeyPrefix = strings.Trim(strings.TrimSpace(f.keyPrefix), "/")
	}
	if f.set["dest-acl"] {
		r.destACL = strings.TrimSpace(f.acl)
	}
	if f.set["dest-public-url"] {
		dst.PublicURL = strings.TrimRight(strings.TrimSpace(f.publicURL), "/")
	}

	missing := func(what, variable, flag string) error {
		how := "pass " + flag
		if o.toEnv != "" {
			how = "set " + variable + " in " + o.toEnv + " or pass " + flag
		}
		return usageErrorf(how, "the destination has no %s: %s", what, how)
	}
	switch {
	case dst.Bucket == "":
		return nil, missing("bucket", "S3_BUCKET", "--dest-bucket")
	case dst.AccessKey == "":
		return nil, missing("access key", "AWS_ACCESS_KEY_ID", "--dest-access-key")
	case dst.SecretKey == "" && !r.secretsEnv:
		return nil, missing("secret key", "AWS_SECRET_ACCESS_KEY", "--dest-secret-key (or use --secrets env)")
	}
	if r.secretsEnv {
		dst.SecretKey = ""
	}
	r.dest = &dst
	return warnings, nil
}

// validationEnv stands in for the environment when init parses what it writes: with
// --secrets env, the variables the file relies on are set.
func (r *initResult) validationEnv(k string) string {
	if r.secretsEnv && (k == "S3SYNC_SOURCE_SECRET_KEY" || k == "S3SYNC_DESTINATION_SECRET_KEY") {
		return "set-in-the-environment"
	}
	return ""
}

// render returns the config file, after checking that ParseConfig reads back every value
// as meant (a template destination is left out of that check: it is empty on purpose).
func (r *initResult) render() (string, error) {
	head, src, dst, tail := r.renderHead(), r.renderSource(), r.renderDestination(), r.renderTail()
	check := head + src + tail
	if r.dest != nil {
		check = head + src + dst + tail
	}
	cfg, err := ParseConfig(strings.NewReader(check), r.validationEnv)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) { // names the section and key, e.g. the destination is the source bucket
			from := r.origin
			if ce.section == "s3.destination" {
				from = r.destOrigin
			}
			return "", usageErrorf("", "the config from %s would not work: %s", from, ce.Error())
		}
		return "", fmt.Errorf("init: the config it would write does not parse: %w", err)
	}
	if err := r.verify(cfg); err != nil {
		return "", err
	}
	return head + src + dst + tail, nil
}

// verify compares what ParseConfig read with what init meant to write.
func (r *initResult) verify(cfg *Config) error {
	type field struct {
		what, variable string
		got, want      string
		secret         bool
	}
	s, d := cfg.Source, cfg.Database
	fields := []field{
		{"[s3.source] access_key", "AWS_ACCESS_KEY_ID", s.AccessKey, r.source.S3.AccessKey, false},
		{"[s3.source] endpoint_url", "S3_ENDPOINT", s.Endpoint, r.source.S3.Endpoint, false},
		{"[s3.source] bucket", "S3_BUCKET", s.Bucket, r.source.S3.Bucket, false},
		{"[s3.source] region", "S3_REGION", s.Region, r.source.S3.Region, false},
		{"[s3.source] key_prefix", "S3_KEY_PREFIX", s.KeyPrefix, r.source.S3.KeyPrefix, false},
		{"[pg.database] host", "DB_HOST", d.Host, r.db.Host, false},
		{"[pg.database] user", "DB_USER", d.User, r.db.User, false},
		{"[pg.database] database", "DB_NAME", d.Database, r.db.Database, false},
	}
	if !r.secretsEnv {
		fields = append(fields,
			field{"[s3.source] secret_key", "AWS_SECRET_ACCESS_KEY", s.SecretKey, r.source.S3.SecretKey, true},
			field{"[pg.database] password", "DB_PASS", d.Password, r.db.Password, true})
	}
	if t := r.dest; t != nil {
		c := cfg.Destination
		fields = append(fields,
			field{"[s3.destination] access_key", "", c.AccessKey, t.AccessKey, false},
			field{"[s3.destination] endpoint_url", "", c.Endpoint, t.Endpoint, false},
			field{"[s3.destination] bucket", "", c.Bucket, t.Bucket, false},
			field{"[s3.destination] region", "", c.Region, t.Region, false},
			field{"[s3.destination] key_prefix", "", c.KeyPrefix, t.KeyPrefix, false},
			field{"[s3.destination] acl", "", c.ACL, r.destACL, false},
			field{"[s3.destination] public_url", "", c.PublicURL, t.PublicURL, false})
		if !r.secretsEnv {
			fields = append(fields, field{"[s3.destination] secret_key", "", c.SecretKey, t.SecretKey, true})
		}
	}
	for _, f := range fields {
		if f.got == f.want {
			continue
		}
		from := ""
		if f.variable != "" {
			from = " (" + f.variable + ")"
		}
		if f.secret {
			return usageErrorf("s3sync init --secrets env …, then set the S3SYNC_* variables it prints",
				"the value of %s%s cannot be written to an INI file as it is (spaces at its ends, or quotes of every kind)", f.what, from)
		}
		return usageErrorf("", "the value of %s%s cannot be written to an INI file as it is: it would read %q instead of %q", f.what, from, f.got, f.want)
	}
	if s.PathStyle != r.source.S3.PathStyle || d.Port != r.db.Port || d.SSLMode != r.db.SSLMode {
		return fmt.Errorf("init: the config it would write reads back differently (path_style, port or sslmode)")
	}
	return nil
}

// iniValue writes v so that the INI parser reads it back as is: plain when it can be,
// else in backquotes or double quotes, which keep ; and # (ParseConfig's verify catches the
// rest).
func iniValue(v string) string {
	plain := v == strings.TrimSpace(v) && !strings.ContainsAny(v, "\"`\n\r") &&
		!strings.HasPrefix(v, ";") && !strings.HasPrefix(v, "#") &&
		!strings.Contains(v, " ;") && !strings.Contains(v, " #") && !strings.Contains(v, "\t;") && !strings.Contains(v, "\t#")
	switch {
	case plain:
		return v
	case !strings.Contains(v, "`"):
		return "`" + v + "`"
	case !strings.Contains(v, `"`):
		return `"` + v + `"`
	}
	return `"""` + v + `"""`
}

// line writes "key = value" with the value quoted as needed.
func line(key, value string) string {
	if value == "" {
		return key + " =\n"
	}
	return key + " = " + iniValue(value) + "\n"
}

func (r *initResult) renderHead() string {
	return "; s3sync configuration, written by `s3sync init` from " + r.origin + ".\n" +
		"; Mastodon's variable for each key is named above it; README.md, \"Config from Mastodon's\n" +
		"; .env.production\", has the whole mapping. private/config.sample.ini explains every key.\n"
}

func (r *initResult) renderSource() string {
	s := r.source.S3
	var b strings.Builder
	b.WriteString("\n[s3.source]\n; the bucket Mastodon uses today\n; AWS_ACCESS_KEY_ID\n")
	b.WriteString(line("access_key", s.AccessKey))
	if r.secretsEnv {
		b.WriteString("; AWS_SECRET_ACCESS_KEY is not written here (init --secrets env): s3sync reads S3SYNC_SOURCE_SECRET_KEY\n")
		b.WriteString("secret_key =\n")
	} else {
		b.WriteString("; AWS_SECRET_ACCESS_KEY\n")
		b.WriteString(line("secret_key", s.SecretKey))
	}
	if s.Endpoint != "" {
		b.WriteString("; S3_ENDPOINT\n")
	} else {
		b.WriteString("; S3_ENDPOINT is not set: Mastodon talks to AWS S3 in S3_REGION, and so does s3sync\n")
	}
	b.WriteString(line("endpoint_url", s.Endpoint))
	b.WriteString("; S3_BUCKET\n")
	b.WriteString(line("bucket", s.Bucket))
	b.WriteString("; S3_REGION (Mastodon's default us-east-1)\n")
	b.WriteString(line("region", s.Region))
	if s.Endpoint != "" {
		b.WriteString("; Mastodon sends path-style requests to S3_ENDPOINT unless S3_OVERRIDE_PATH_STYLE=true\n")
	} else {
		b.WriteString("; AWS S3: virtual-hosted-style requests, as Mastodon sends them\n")
	}
	b.WriteString(line("path_style", strconv.FormatBool(s.PathStyle)))
	b.WriteString("; S3_KEY_PREFIX\n")
	b.WriteString(line("key_prefix", s.KeyPrefix))
	b.WriteString("; visitors read the media at " + r.source.MediaURL + " (S3_ALIAS_HOST, else S3_PROTOCOL://S3_HOSTNAME/S3_BUCKET)\n")
	if r.source.SingleRequest {
		b.WriteString("; S3_FORCE_SINGLE_REQUEST=true: nothing to set, s3sync reads every object with a single GET\n")
	}
	return b.String()
}

func (r *initResult) renderDestination() string {
	var b strings.Builder
	t := r.dest
	if t == nil {
		b.WriteString("\n; The new bucket: fill in access_key, secret_key, endpoint_url (empty for AWS S3, then region)\n" +
			"; and bucket, then run s3sync check. Until then every command stops at this section.\n" +
			"[s3.destination]\n")
		b.WriteString("access_key =\n")
		if r.secretsEnv {
			b.WriteString("; leave empty with --secrets env: s3sync reads S3SYNC_DESTINATION_SECRET_KEY\n")
		}
		b.WriteString("secret_key =\n")
		b.WriteString("; the provider's S3 endpoint, e.g. https://s3.new-provider.example; empty for AWS S3\n")
		b.WriteString("endpoint_url =\n")
		b.WriteString("bucket =\n")
		b.WriteString(line("region", catalog.DefaultS3Region))
		b.WriteString("; path-style URLs (https://endpoint/bucket/key): MinIO, Garage, Ceph and most self-hosted servers need this;\n" +
			"; it is what Mastodon uses with S3_ENDPOINT unless S3_OVERRIDE_PATH_STYLE=true\n")
		b.WriteString("path_style = false\n")
		b.WriteString("; S3_KEY_PREFIX: Mastodon's keys keep it after the switch unless you change it\n")
		b.WriteString(line("key_prefix", r.source.S3.KeyPrefix))
	} else {
		b.WriteString("\n[s3.destination]\n; the new bucket, from " + r.destOrigin + "\n")
		b.WriteString(line("access_key", t.AccessKey))
		if r.secretsEnv {
			b.WriteString("; not written here (init --secrets env): s3sync reads S3SYNC_DESTINATION_SECRET_KEY\n")
		}
		b.WriteString(line("secret_key", t.SecretKey))
		b.WriteString(line("endpoint_url", t.Endpoint))
		b.WriteString(line("bucket", t.Bucket))
		b.WriteString(line("region", t.Region))
		b.WriteString(line("path_style", strconv.FormatBool(t.PathStyle)))
		b.WriteString(line("key_prefix", t.KeyPrefix))
	}
	b.WriteString("; S3_PERMISSION: the canned ACL of every object written; empty sends none (R2, B2 and\n" +
		"; buckets with ACLs disabled reject it)\n")
	b.WriteString(line("acl", r.destACL))
	b.WriteString("; fixed: acl for every object; mastodon: private for the media of suspended accounts, as Mastodon sets it\n")
	b.WriteString("acl_policy = fixed\n")
	b.WriteString("; where visitors read the media after the switch: https:// + the new S3_ALIAS_HOST, or your CDN;\n" +
		"; empty = the bucket's own URL. check and verify --public read from it anonymously.\n")
	switch {
	case t != nil && t.PublicURL != "":
		b.WriteString(line("public_url", t.PublicURL))
	case r.source.PublicURL != "":
		b.WriteString("; S3_ALIAS_HOST serves " + r.source.PublicURL + " from the old bucket today: set public_url to it once it\n" +
			"; serves the new bucket (check reads the destination through it)\n")
		b.WriteString("public_url =\n")
	default:
		b.WriteString("public_url =\n")
	}
	return b.String()
}

func (r *initResult) renderTail() string {
	var b strings.Builder
	db := r.db
	b.WriteString("\n[pg.database]\n; DB_HOST (Mastodon's default localhost; a path is a Unix socket directory), DB_PORT, DB_USER,\n" +
		"; DB_PASS, DB_NAME and DB_SSLMODE, with what DATABASE_URL names over them\n")
	b.WriteString(line("host", db.Host))
	b.WriteString(line("port", strconv.Itoa(db.Port)))
	b.WriteString(line("user", db.User))
	switch {
	case r.secretsEnv && r.passwordUsed:
		b.WriteString("; DB_PASS is not written here (init --secrets env): s3sync reads S3SYNC_PG_PASSWORD\n")
		b.WriteString("password =\n")
	default:
		b.WriteString(line("password", db.Password))
	}
	b.WriteString(line("database", db.Database))
	b.WriteString(line("sslmode", db.SSLMode))
	b.WriteString("\n[pg.tunnel]\n; reach the database through SSH when it listens only on its own host: see the README,\n" +
		"; \"Through an SSH tunnel\", and private/config.sample.ini\n")
	b.WriteString("enabled = false\n")
	b.WriteString("\n[sync]\n; the defaults: concurrency 16, retries 10, checkpoint private/s3sync.db (see private/config.sample.ini)\n")
	b.WriteString(line("concurrency", strconv.Itoa(defaultConcurrency)))
	return b.String()
}

// writeConfig writes the config to out. "-" is standard output; inPlace (a character device, a
// FIFO, /dev/stdout) is written in place. Anything else goes through createOutput: a temporary
// file, mode 0600, in the directory of the file out names (a symlink is followed and kept),
// put in place atomically, by a link that fails if a file appeared there meanwhile or, with
// force, by a rename over it. A missing directory is created 0700. The warnings say when the
// config went to a file in place that others may read.
func writeConfig(g *globals, out string, data []byte, inPlace, force bool) ([]string, error) {
	if out == "-" {
		if _, err := g.stdout.Write(data); err != nil {
			return nil, fmt.Errorf("init: write the config to standard output: %w", err)
		}
		f, _ := g.stdout.(*os.File)
		return readableByOthers("standard output", f), nil
	}
	if !inPlace {
		path, _ := resolveOutput(out)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
	}
	f, err := createOutput(out, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.discard()
	if f.tmp != "" {
		err = f.Chmod(0o600) // also over a file that had another mode
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		return nil, fmt.Errorf("init: write %s: %w", out, err)
	}
	if f.tmp == "" {
		warnings := readableByOthers(out, f.File)
		return warnings, f.commit()
	}
	if force {
		err = f.commit()
	} else {
		err = commitNew(f, out)
	}
	if err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(f.path))
	return nil, nil
}

// commitNew puts the temporary file of f in place only if nothing is there yet: a hard link,
// which fails if the name exists, or where the file system has none, a check and a rename.
func commitNew(f *outputFile, out string) error {
	exists := usageErrorf("add --force to replace it, or pass --output ANOTHER_FILE", "%s exists; init does not overwrite it", out)
	f.done = true
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	defer os.Remove(f.tmp)
	if err != nil {
		return fmt.Errorf("init: write %s: %w", f.tmp, err)
	}
	err = os.Link(f.tmp, f.path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return exists
	}
	if _, err := os.Lstat(f.path); err == nil {
		return exists
	}
	if err := os.Rename(f.tmp, f.path); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// readableByOthers warns when f, written in place, is a regular file its group or others may
// read: it holds the secrets.
func readableByOthers(what string, f *os.File) []string {
	if f == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s is a file of mode %#o, which others may read, and the config holds the secrets: chmod 600 it, or use init --secrets env", what, fi.Mode().Perm())}
}

// syncDir makes a new directory entry durable, where the system allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// printSummary says what was written, which secrets to export, and what to run next; on
// standard error when the config went to a stream (standard output, a FIFO, a device), on
// standard output otherwise.
func (r *initResult) printSummary(g *globals, out string, stream bool) {
	w := g.stdout
	switch {
	case out == "-":
		w = g.stderr
		fmt.Fprintf(w, "wrote the config to standard output from %s\n", r.origin)
	case stream:
		w = g.stderr
		fmt.Fprintf(w, "wrote the config to %s from %s\n", out, r.origin)
	default:
		fmt.Fprintf(w, "wrote %s (mode 0600) from %s\n", out, r.origin)
	}
	fmt.Fprintf(w, "  [s3.source]       %s\n", describeBucket(r.source.S3))
	fmt.Fprintf(w, "  [pg.database]     %s as %s at %s (sslmode %s)\n", r.db.Database, r.db.User, pgAddr(r.db), r.db.SSLMode)
	if r.dest != nil {
		fmt.Fprintf(w, "  [s3.destination]  %s, from %s\n", describeBucket(*r.dest), r.destOrigin)
	} else {
		fmt.Fprintf(w, "  [s3.destination]  to fill in: the new bucket's access_key, secret_key, endpoint_url and bucket\n")
	}
	if strings.HasPrefix(r.db.Host, "/") {
		fmt.Fprintf(w, "note: %s is a Unix socket directory: run s3sync on the database's host, as a user PostgreSQL lets in (usually %s)\n", r.db.Host, r.db.User)
	} else if !strings.Contains(r.db.Host, ".") && !strings.Contains(r.db.Host, ":") && r.db.Host != "localhost" {
		fmt.Fprintf(w, "note: DB_HOST %s looks like a docker compose service name: run s3sync in Mastodon's compose network (see the README), or set [pg.database] host\n", r.db.Host)
	}
	if r.secretsEnv {
		fmt.Fprintf(w, "\nsecrets are not in the file (--secrets env); set them in the environment of every s3sync run:\n")
		fmt.Fprintf(w, "  export S3SYNC_SOURCE_SECRET_KEY=…        # AWS_SECRET_ACCESS_KEY of %s\n", r.origin)
		if r.dest != nil {
			fmt.Fprintf(w, "  export S3SYNC_DESTINATION_SECRET_KEY=…   # the new bucket's secret key (%s)\n", r.destOrigin)
		} else {
			fmt.Fprintf(w, "  export S3SYNC_DESTINATION_SECRET_KEY=…   # the new bucket's secret key\n")
		}
		if r.passwordUsed {
			fmt.Fprintf(w, "  export S3SYNC_PG_PASSWORD=…              # DB_PASS of %s\n", r.origin)
		}
	}
	check := "s3sync check"
	if out != defaultConfigPath {
		check = "s3sync --config " + shellQuote(out) + " check"
	}
	switch {
	case stream && r.dest == nil:
		fmt.Fprintf(w, "\nnext: save the config as a file (mode 0600), fill in its [s3.destination], then run s3sync --config FILE check\n")
	case stream:
		fmt.Fprintf(w, "\nnext: save the config as a file (mode 0600), then run s3sync --config FILE check\n")
	case r.dest == nil:
		fmt.Fprintf(w, "\nnext: fill in [s3.destination] in %s, then run %s\n", out, check)
	default:
		fmt.Fprintf(w, "\nnext: %s\n", check)
	}
}

// describeBucket is one line about a bucket, without its keys.
func describeBucket(c storage.Config) string {
	s := "bucket " + c.Bucket
	if c.KeyPrefix != "" {
		s += " (key prefix " + c.KeyPrefix + "/)"
	}
	if c.Endpoint == "" {
		return s + " on AWS S3 in " + c.Region
	}
	style := ""
	if c.PathStyle {
		style = ", path style"
	}
	return s + " at " + text.RedactURL(c.Endpoint) + " (region " + c.Region + style + ")"
}

// pgAddr is host:port, or the socket directory and port.
func pgAddr(c catalog.DBConfig) string {
	if strings.HasPrefix(c.Host, "/") {
		return c.Host + " port " + strconv.Itoa(c.Port)
	}
	return c.Host + ":" + strconv.Itoa(c.Port)
}
