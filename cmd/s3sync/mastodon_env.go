package main

// Mastodon's environment (.env.production, or the variables docker compose passes) read as
// Mastodon reads it, for `s3sync init`. Nothing here touches the network or the disk.
//
// Every rule follows Mastodon's code and documentation (mastodon/mastodon, mastodon/documentation):
//   - config/initializers/paperclip.rb: the S3 client Mastodon builds. S3_ENABLED must be exactly
//     "true"; S3_REGION defaults to us-east-1; S3_ENDPOINT, when set, is the API endpoint, with
//     path-style requests unless S3_OVERRIDE_PATH_STYLE=true; without it the client talks to AWS
//     S3 in S3_REGION. S3_PROTOCOL (https) and S3_HOSTNAME (s3-<region>.amazonaws.com) build only
//     the media URLs, as do S3_ALIAS_HOST (or S3_CLOUDFRONT_HOST) without the bucket. S3_PERMISSION
//     defaults to public-read and, set empty, sends no ACL. S3_KEY_PREFIX goes before every key.
//     S3_FORCE_SINGLE_REQUEST=true makes Mastodon's own downloads one GET (s3sync's always are).
//   - content/en/admin/optional/object-storage.md (documentation): "S3_ENDPOINT (defaults to
//     'https://s3.<S3_REGION>.amazonaws.com', required if not using AWS S3)"; S3_HOSTNAME and
//     S3_ALIAS_HOST are "for client access to media objects".
//   - config/database.yml (production): DB_HOST (localhost), DB_PORT (5432), DB_USER (mastodon),
//     DB_PASS (none), DB_NAME (mastodon_production), DB_SSLMODE (prefer). Rails merges
//     DATABASE_URL over it: what the URL names wins, the rest comes from DB_*; likewise
//     streaming/database.js takes DB_PASS when the URL has no password.
//   - lib/tasks/mastodon.rake (mastodon:setup): what the wizard writes, e.g. DB_HOST=/var/run/postgresql
//     (a Unix socket directory) and, for every provider but AWS, S3_ENDPOINT and S3_HOSTNAME naming
//     the same host.
// The file's syntax is the dotenv gem's, which loads it for Mastodon (bkeepers/dotenv,
// lib/dotenv/parser.rb).

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/storage"
)

// Mastodon's defaults, from config/initializers/paperclip.rb and config/database.yml.
const (
	mastodonS3Region   = "us-east-1"
	mastodonS3Protocol = "https"
	mastodonDBHost     = "localhost"
	mastodonDBUser     = "mastodon"
	mastodonDBName     = "mastodon_production"
	mastodonDBSSLMode  = "prefer"
	mastodonDocsS3     = "https://docs.joinmastodon.org/admin/optional/object-storage/"
)

// mastodonVars are the variables init reads; a command substitution in any of them is refused.
var mastodonVars = []string{"S3_ENABLED", "S3_BUCKET", "S3_ENDPOINT", "S3_PROTOCOL", "S3_HOSTNAME",
	"S3_REGION", "S3_KEY_PREFIX", "S3_PERMISSION", "S3_FORCE_SINGLE_REQUEST", "S3_ALIAS_HOST",
	"S3_CLOUDFRONT_HOST", "S3_OVERRIDE_PATH_STYLE", "S3_SIGNATURE_VERSION", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "SWIFT_ENABLED", "AZURE_ENABLED",
	"DB_HOST", "DB_PORT", "DB_USER", "DB_PASS", "DB_NAME", "DB_SSLMODE", "DATABASE_URL"}

// dotenv is a parsed environment file.
type dotenv struct {
	vars map[string]string
	// commands are the keys whose value holds a command substitution $(…): the dotenv gem runs
	// it, s3sync does not (the value is kept as written).
	commands map[string]bool
	// unset maps a key to the variables its value refers to that the file does not set
	// (read as empty; the dotenv gem would take them from its process environment).
	unset map[string][]string
	// badLines are the numbers of the lines that are neither KEY=value, a comment nor blank;
	// the dotenv gem skips them too.
	badLines []int
}

// lookup returns a variable of the file and whether the file sets it (possibly empty).
func (d *dotenv) lookup(key string) (string, bool) {
	v, ok := d.vars[key]
	return v, ok
}

// parseDotenv reads an environment file as the dotenv gem does: KEY=value, `export KEY=value`
// and `KEY: value` lines; values unquoted (ending at # or the line's end, trimmed), in single
// quotes (literal) or double quotes (escapes \n, \r, \" and \\, may span lines); $VAR and
// ${VAR} replaced in unquoted and double-quoted values by what the file set before (\$ is a
// dollar); # comments and blank lines. A key set twice keeps its last value.
func parseDotenv(r io.Reader) (*dotenv, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	d := &dotenv{vars: map[string]string{}, commands: map[string]bool{}, unset: map[string][]string{}}
	line := 1
	for text != "" {
		end := strings.IndexByte(text, '\n')
		if end < 0 {
			end = len(text)
		}
		s := strings.TrimLeft(text[:end], " \t")
		if s == "" || s[0] == '#' {
			text, line = advance(text, end, line)
			continue
		}
		entry := text[end-len(strings.TrimLeft(text[:end], " \t")):]
		key, raw, quote, n, ok := splitDotenvEntry(entry)
		if !ok {
			d.badLines = append(d.badLines, line)
			text, line = advance(text, end, line)
			continue
		}
		d.vars[key] = d.value(key, raw, quote)
		consumed := len(text) - len(entry) + n
		line += strings.Count(text[:consumed], "\n")
		text = text[consumed:]
		if strings.HasPrefix(text, "\n") {
			text, line = text[1:], line+1
		}
	}
	return d, nil
}

// advance skips past the line ending at end.
func advance(text string, end, line int) (string, int) {
	if end < len(text) {
		return text[end+1:], line + 1
	}
	return "", line
}

// splitDotenvEntry splits one entry (from its first non-blank character) into key and raw
// value, with its quote character (a single or a double quote, 0 for none) and the number of
// bytes used, up to but not including the newline ending it. ok is false when it is not KEY=value.
func splitDotenvEntry(s string) (key, raw string, quote byte, n int, ok bool) {
	i := 0
	if strings.HasPrefix(s, "export") && len(s) > 6 && (s[6] == ' ' || s[6] == '\t') {
		i = 6
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	k := i
	for i < len(s) && isDotenvKeyChar(s[i]) {
		i++
	}
	if i == k {
		return "", "", 0, 0, false
	}
	key = s[k:i]
	j := i
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	switch {
	case j < len(s) && s[j] == '=':
		i = j + 1
	case i < len(s) && s[i] == ':' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t'):
		i++
	default:
		return "", "", 0, 0, false
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	lineEnd := strings.IndexByte(s[i:], '\n')
	if lineEnd < 0 {
		lineEnd = len(s)
	} else {
		lineEnd += i
	}
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		q := s[i]
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' && j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			if s[j] != q {
				continue
			}
			// After the closing quote only blanks and a comment may follow on its line.
			rest := s[j+1:]
			restEnd := strings.IndexByte(rest, '\n')
			if restEnd < 0 {
				restEnd = len(rest)
			}
			if tail := strings.TrimLeft(rest[:restEnd], " \t"); tail == "" || tail[0] == '#' {
				return key, s[i+1 : j], q, j + 1 + restEnd, true
			}
			break
		}
		// No closing quote that ends the value: the dotenv gem reads it unquoted.
	}
	value := s[i:lineEnd]
	if h := strings.IndexByte(value, '#'); h >= 0 {
		value = value[:h]
	}
	return key, strings.TrimRight(value, " \t"), 0, lineEnd, true
}

func isDotenvKeyChar(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// value unescapes raw as the dotenv gem does for its quote and substitutes variables.
func (d *dotenv) value(key, raw string, quote byte) string {
	if quote == '\'' {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			next := raw[i+1]
			switch {
			case next == '$':
				b.WriteString(`\$`) // for the substitution below: a literal dollar
			case quote == '"' && next == 'n':
				b.WriteByte('\n')
			case quote == '"' && next == 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(next)
			}
			i++
			continue
		}
		b.WriteByte(c)
	}
	return d.substitute(key, b.String())
}

// substitute replaces $NAME and ${NAME} with the file's values so far; \$ is a dollar.
func (d *dotenv) substitute(key, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
		case s[i] != '$':
			b.WriteByte(s[i])
		case i+1 < len(s) && s[i+1] == '(':
			d.commands[key] = true
			b.WriteByte('$')
		default:
			j := i + 1
			if j < len(s) && s[j] == '{' {
				j++
			}
			start := j
			for j < len(s) && (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if j == start {
				b.WriteString(s[i:j])
				i = j - 1
				continue
			}
			name := s[start:j]
			if j < len(s) && s[j] == '}' {
				j++
			}
			v, ok := d.vars[name]
			if !ok {
				d.unset[key] = append(d.unset[key], name)
			}
			b.WriteString(v)
			i = j - 1
		}
	}
	return b.String()
}

// envSource is where Mastodon's variables come from: a parsed file or the process environment.
type envSource struct {
	name   string                      // for messages: the file's path, or "the environment"
	file   bool                        // a file (--from-env, --to-env), not the process environment
	lookup func(string) (string, bool) // the value and whether it is set
	env    *dotenv                     // the parsed file, nil for the process environment
}

// fileSource is an envSource reading the parsed file d found at path.
func fileSource(path string, d *dotenv) envSource {
	return envSource{name: path, file: true, lookup: d.lookup, env: d}
}

// processSource reads the process environment through lookup, which tells a variable set
// empty from an unset one, as Mastodon's ENV does: each variable then reads as it would in a
// file (S3_PERMISSION set empty sends no ACL).
func processSource(lookup func(string) (string, bool)) envSource {
	return envSource{name: "the environment", lookup: lookup}
}

func (e envSource) get(key string) string {
	v, _ := e.lookup(key)
	return v
}

func (e envSource) errorf(hint, format string, a ...any) error {
	return usageErrorf(hint, "%s: %s", e.name, fmt.Sprintf(format, a...))
}

// check refuses command substitutions in the variables init reads and returns the warnings
// of the file's parse: lines skipped and references to variables it does not set.
func (e envSource) check() ([]string, error) {
	if e.env == nil {
		return nil, nil
	}
	var warnings []string
	for _, k := range mastodonVars {
		if e.env.commands[k] {
			return nil, e.errorf("put the value itself in the file", "%s runs a command ($(…)); s3sync does not run commands", k)
		}
		if names := e.env.unset[k]; len(names) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s refers to $%s, which the file does not set: read as empty", e.name, k, strings.Join(names, ", $")))
		}
	}
	if n := len(e.env.badLines); n > 0 {
		lines := make([]string, 0, n)
		for _, l := range e.env.badLines {
			lines = append(lines, strconv.Itoa(l))
		}
		warnings = append(warnings, fmt.Sprintf("%s: line(s) %s are not KEY=value: ignored, as Mastodon ignores them", e.name, strings.Join(lines, ", ")))
	}
	return warnings, nil
}

// mastodonBucket is what Mastodon's variables say about its bucket.
type mastodonBucket struct {
	// S3 holds access_key, secret_key, endpoint_url, bucket, region, path_style and key_prefix.
	S3 storage.Config
	// ACL is S3_PERMISSION: public-read when unset, "" (no ACL) when set empty.
	ACL string
	// ACLSet and KeyPrefixSet say whether S3_PERMISSION and S3_KEY_PREFIX were set.
	ACLSet, KeyPrefixSet bool
	// PublicURL is S3_PROTOCOL://S3_ALIAS_HOST (or S3_CLOUDFRONT_HOST); "" without an alias host.
	PublicURL string
	// MediaURL is where visitors read the media: PublicURL, else S3_PROTOCOL://S3_HOSTNAME/S3_BUCKET.
	MediaURL string
	// SingleRequest is S3_FORCE_SINGLE_REQUEST=true.
	SingleRequest bool
}

// mastodonS3 maps Mastodon's S3 variables to a bucket. current is Mastodon's own file (or
// environment): it must have S3_ENABLED=true, S3_BUCKET and both AWS keys. Otherwise (the new
// provider's values, --to-env) S3_ENABLED may be absent, and what is missing may come from
// flags: the caller checks the result.
func mastodonS3(e envSource, current bool) (mastodonBucket, []string, error) {
	var b mastodonBucket
	var warnings []string
	warn := func(format string, a ...any) {
		warnings = append(warnings, e.name+": "+fmt.Sprintf(format, a...))
	}

	if v, ok := e.lookup("S3_ENABLED"); v != "true" && (current || ok) {
		for _, other := range []struct{ key, what string }{{"SWIFT_ENABLED", "OpenStack Swift"}, {"AZURE_ENABLED", "Azure Blob Storage"}} {
			if e.get(other.key) == "true" {
				return b, nil, e.errorf("", "%s=true: Mastodon stores media in %s, not in an S3 bucket; s3sync copies between S3 buckets", other.key, other.what)
			}
		}
		what := "S3_ENABLED is not set"
		if ok {
			what = fmt.Sprintf("S3_ENABLED is %q, not true", v)
		}
		hint := "move the media to a bucket as " + mastodonDocsS3 + " describes, then set S3_ENABLED=true"
		if !e.file && !ok {
			hint = "s3sync init --from-env /home/mastodon/live/.env.production"
		}
		return b, nil, e.errorf(hint, "%s: Mastodon stores media on local disk; s3sync copies between buckets", what)
	}

	b.S3.Bucket = strings.TrimSpace(e.get("S3_BUCKET"))
	if b.S3.Bucket == "" && current {
		for _, k := range []string{"S3_ENDPOINT", "S3_HOSTNAME", "S3_ALIAS_HOST"} {
			if e.get(k) != "" {
				return b, nil, e.errorf("S3_BUCKET=<the bucket's name>", "%s is set but S3_BUCKET is not: name the bucket the media is in", k)
			}
		}
		return b, nil, e.errorf("S3_BUCKET=<the bucket's name>", "S3_BUCKET is missing: name the bucket the media is in")
	}

	b.S3.Region = strings.TrimSpace(e.get("S3_REGION"))
	if b.S3.Region == "" {
		b.S3.Region = mastodonS3Region
	}
	protocol := strings.TrimSpace(e.get("S3_PROTOCOL"))
	if protocol == "" {
		protocol = mastodonS3Protocol
	}
	hostname := strings.TrimSpace(e.get("S3_HOSTNAME"))
	endpoint, hasEndpoint := e.lookup("S3_ENDPOINT")
	endpoint = strings.TrimSpace(endpoint)
	switch {
	case endpoint != "":
		if !strings.Contains(endpoint, "://") {
			warn("S3_ENDPOINT %s has no scheme: read as %s://%s (S3_PROTOCOL)", redactEndpoint(endpoint), protocol, redactEndpoint(endpoint))
			endpoint = protocol + "://" + endpoint
		}
		u, err := url.Parse(endpoint)
		switch {
		case hasUserInfo(endpoint, u, err):
			return b, nil, e.errorf("", "S3_ENDPOINT must not contain a user name or password (user:password@ before the host); the keys are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return b, nil, e.errorf("S3_ENDPOINT=https://s3.example.com", "S3_ENDPOINT %q is not an http(s) URL like https://s3.example.com", redactEndpoint(endpoint))
		}
		b.S3.Endpoint = strings.TrimRight(endpoint, "/")
		// paperclip.rb: force_path_style: ENV['S3_OVERRIDE_PATH_STYLE'] != 'true'
		b.S3.PathStyle = e.get("S3_OVERRIDE_PATH_STYLE") != "true"
		if hostname != "" && !sameS3Host(hostname, u.Hostname()) {
			warn("S3_HOSTNAME (%s) and S3_ENDPOINT (%s) name different hosts: Mastodon sends its S3 requests to S3_ENDPOINT (S3_HOSTNAME only builds media URLs), and so does s3sync",
				hostname, redactEndpoint(b.S3.Endpoint))
		}
	default:
		if hasEndpoint {
			warn("S3_ENDPOINT is set empty: read as unset (AWS S3 in region %s)", b.S3.Region)
		}
		// Without S3_ENDPOINT, Mastodon's client talks to AWS S3 in S3_REGION: endpoint_url stays empty.
		if hostname != "" {
			region, aws := awsS3HostRegion(hostname)
			switch {
			case !aws:
				warn("S3_HOSTNAME is %s, not an AWS host, but S3_ENDPOINT is unset: Mastodon sends its S3 requests to AWS S3 in region %s (S3_HOSTNAME only builds media URLs), and so does s3sync; if the bucket is at %s, set [s3.source] endpoint_url = %s://%s",
					hostname, b.S3.Region, hostname, protocol, hostname)
			case region != "" && region != b.S3.Region:
				warn("S3_HOSTNAME %s names region %s, S3_REGION is %s: Mastodon signs for S3_REGION, and so does s3sync; if check says the region is wrong, set region = %s",
					hostname, region, b.S3.Region, region)
			}
		}
	}
	if v := e.get("S3_SIGNATURE_VERSION"); v != "" && v != "v4" && v != "4" {
		warn("S3_SIGNATURE_VERSION is %s: s3sync signs with version 4 only", v)
	}

	if p, ok := e.lookup("S3_KEY_PREFIX"); ok {
		b.S3.KeyPrefix, b.KeyPrefixSet = strings.Trim(strings.TrimSpace(p), "/"), true
	}

	b.S3.AccessKey = e.get("AWS_ACCESS_KEY_ID")
	b.S3.SecretKey = e.get("AWS_SECRET_ACCESS_KEY")
	for _, k := range []struct{ name, value string }{{"AWS_ACCESS_KEY_ID", b.S3.AccessKey}, {"AWS_SECRET_ACCESS_KEY", b.S3.SecretKey}} {
		if current && strings.TrimSpace(k.value) == "" {
			return b, nil, e.errorf(k.name+"=<the key>", "%s is missing: without it Mastodon uses the AWS SDK's own credentials (an instance role, ~/.aws), which s3sync never reads", k.name)
		}
	}

	// paperclip.rb: ENV.fetch('S3_PERMISSION') { 'public-read' }, and no ACL when it is ''.
	b.ACL, b.ACLSet = e.lookup("S3_PERMISSION")
	b.ACL = strings.TrimSpace(b.ACL)
	if !b.ACLSet {
		b.ACL = defaultACL
	}
	if b.ACL != "" && !contains(cannedACLs, b.ACL) {
		return b, nil, e.errorf("S3_PERMISSION=public-read", "S3_PERMISSION %q is not a canned ACL (one of %s, or empty to send none)", b.ACL, strings.Join(cannedACLs, ", "))
	}
	b.SingleRequest = e.get("S3_FORCE_SINGLE_REQUEST") == "true"

	alias := strings.TrimSpace(e.get("S3_ALIAS_HOST"))
	if alias == "" {
		alias = strings.TrimSpace(e.get("S3_CLOUDFRONT_HOST"))
	}
	if alias != "" {
		alias = strings.TrimRight(alias, "/")
		if strings.Contains(alias, "://") {
			warn("S3_ALIAS_HOST %s has a scheme: Mastodon puts %s:// in front of it", alias, protocol)
			b.PublicURL = alias
		} else {
			b.PublicURL = protocol + "://" + alias
		}
		b.MediaURL = b.PublicURL
	} else {
		host := hostname
		if host == "" {
			host = "s3-" + b.S3.Region + ".amazonaws.com"
		}
		b.MediaURL = protocol + "://" + host + "/" + b.S3.Bucket
	}
	return b, warnings, nil
}

// sameS3Host reports whether S3_HOSTNAME (host[:port], perhaps bucket.host) names the
// endpoint's host.
func sameS3Host(hostname, endpointHost string) bool {
	h := strings.ToLower(hostname)
	if u, err := url.Parse("//" + h); err == nil && u.Hostname() != "" {
		h = u.Hostname()
	}
	e := strings.ToLower(endpointHost)
	return h == e || strings.HasSuffix(h, "."+e)
}

// awsS3HostRegion tells whether host is an AWS S3 host name and the region it names, ""
// when none can be told: s3.amazonaws.com, s3-<region>.amazonaws.com,
// s3.<region>.amazonaws.com, s3.dualstack.<region>.amazonaws.com, each perhaps after a bucket.
func awsS3HostRegion(host string) (region string, aws bool) {
	h := strings.ToLower(host)
	if u, err := url.Parse("//" + h); err == nil && u.Hostname() != "" {
		h = u.Hostname()
	}
	var rest string
	switch {
	case strings.HasSuffix(h, ".amazonaws.com"):
		rest = strings.TrimSuffix(h, ".amazonaws.com")
	case strings.HasSuffix(h, ".amazonaws.com.cn"):
		rest = strings.TrimSuffix(h, ".amazonaws.com.cn")
	default:
		return "", false
	}
	labels := strings.Split(rest, ".")
	for i, l := range labels {
		switch {
		case l == "s3-external-1":
			return mastodonS3Region, true
		case strings.HasPrefix(l, "s3-") && l != "s3-accelerate":
			return strings.TrimPrefix(l, "s3-"), true
		case l == "s3":
			next := labels[i+1:]
			if len(next) > 0 && next[0] == "dualstack" {
				next = next[1:]
			}
			if len(next) == 0 {
				return mastodonS3Region, true // s3.amazonaws.com: the global endpoint, us-east-1
			}
			return next[0], true
		}
	}
	return "", true
}

// mastodonDatabase maps Mastodon's database variables as config/database.yml (production)
// and Rails do: DB_* with their defaults, then whatever DATABASE_URL names over them. Empty
// variables count as unset.
func mastodonDatabase(e envSource) (catalog.DBConfig, []string, error) {
	var warnings []string
	get := func(key, def string) string {
		if v := strings.TrimSpace(e.get(key)); v != "" {
			return v
		}
		return def
	}
	db := catalog.DBConfig{
		Host:     get("DB_HOST", mastodonDBHost),
		User:     get("DB_USER", mastodonDBUser),
		Password: e.get("DB_PASS"),
		Database: get("DB_NAME", mastodonDBName),
		SSLMode:  get("DB_SSLMODE", mastodonDBSSLMode),
	}
	port, err := dbPort(get("DB_PORT", strconv.Itoa(defaultPGPort)))
	if err != nil {
		return db, nil, e.errorf("DB_PORT=5432", "DB_PORT %q is not a port number from 1 to 65535", get("DB_PORT", ""))
	}
	db.Port = port

	if raw := strings.TrimSpace(e.get("DATABASE_URL")); raw != "" {
		w, err := mergeDatabaseURL(e, &db, raw)
		if err != nil {
			return db, nil, err
		}
		warnings = append(warnings, w...)
	}
	if !contains(sslModes, db.SSLMode) {
		return db, nil, e.errorf("DB_SSLMODE=prefer", "sslmode %q (DB_SSLMODE or DATABASE_URL) is not one of %s", db.SSLMode, strings.Join(sslModes, ", "))
	}
	return db, warnings, nil
}

func dbPort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port")
	}
	return n, nil
}

// mergeDatabaseURL puts what DATABASE_URL names over db, as Rails merges it over
// database.yml; a variable of DB_* it contradicts gets a warning. Messages never show the URL:
// it holds the password.
func mergeDatabaseURL(e envSource, db *catalog.DBConfig, raw string) ([]string, error) {
	var warnings []string
	bad := func(why string) error {
		return e.errorf("DATABASE_URL=postgres://mastodon:PASSWORD@db.example.org:5432/mastodon_production",
			"DATABASE_URL is not a postgres://user:password@host:port/database URL: %s", why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		why := "it does not parse"
		if ue, ok := err.(*url.Error); ok && !strings.Contains(ue.Err.Error(), "userinfo") {
			why = ue.Err.Error()
		}
		return nil, bad(why)
	}
	if s := strings.ToLower(u.Scheme); s != "postgres" && s != "postgresql" {
		return nil, bad(fmt.Sprintf("the scheme is %q", u.Scheme))
	}
	if u.Opaque != "" {
		return nil, bad("no // after the scheme")
	}
	set := func(field *string, value, variable, what string, secret bool) {
		if value == "" {
			return
		}
		if old := strings.TrimSpace(e.get(variable)); old != "" && old != value {
			if secret {
				warnings = append(warnings, fmt.Sprintf("%s: DATABASE_URL and %s give different %ss: DATABASE_URL wins, as in Rails", e.name, variable, what))
			} else {
				warnings = append(warnings, fmt.Sprintf("%s: DATABASE_URL names %s %s, %s is %s: DATABASE_URL wins, as in Rails", e.name, what, value, variable, old))
			}
		}
		*field = value
	}
	set(&db.Host, u.Hostname(), "DB_HOST", "host", false)
	port := u.Port()
	if u.User != nil {
		set(&db.User, u.User.Username(), "DB_USER", "user", false)
		if p, ok := u.User.Password(); ok {
			set(&db.Password, p, "DB_PASS", "password", true)
		}
	}
	set(&db.Database, strings.TrimPrefix(u.Path, "/"), "DB_NAME", "database", false)
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("its parameters (after ?) do not parse")
	}
	var ignored []string
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "sslmode":
			db.SSLMode = v
		case "host":
			set(&db.Host, v, "DB_HOST", "host", false)
		case "port":
			port = v
		case "user":
			set(&db.User, v, "DB_USER", "user", false)
		case "password":
			set(&db.Password, v, "DB_PASS", "password", true)
		case "dbname":
			set(&db.Database, v, "DB_NAME", "database", false)
		default:
			ignored = append(ignored, k)
		}
	}
	if port != "" {
		n, err := dbPort(port)
		if err != nil {
			return nil, bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
		}
		if old := strings.TrimSpace(e.get("DB_PORT")); old != "" && old != port {
			warnings = append(warnings, fmt.Sprintf("%s: DATABASE_URL names port %s, DB_PORT is %s: DATABASE_URL wins, as in Rails", e.name, port, old))
		}
		db.Port = n
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		warnings = append(warnings, fmt.Sprintf("%s: DATABASE_URL parameter(s) %s ignored (s3sync reads host, port, user, password, dbname and sslmode)", e.name, strings.Join(ignored, ", ")))
	}
	return warnings, nil
}
