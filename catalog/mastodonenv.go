package catalog

// Mastodon's environment: .env.production, or the variables docker compose passes, read as
// Mastodon reads them. Nothing here touches the network or the disk. The file each rule comes
// from (mastodon/mastodon unless named) is given beside it; doc.go, "Mastodon's environment",
// sums them up.

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/s3sync/s3sync/internal/text"
)

// DefaultS3Region is the region Mastodon uses when S3_REGION is unset or empty
// (config/initializers/paperclip.rb).
const DefaultS3Region = "us-east-1"

// Mastodon's other defaults, from config/initializers/paperclip.rb and config/database.yml.
const (
	defaultS3Protocol   = "https"
	defaultS3Permission = "public-read"
	defaultDBHost       = "localhost"
	defaultDBPort       = 5432
	defaultDBUser       = "mastodon"
	defaultDBName       = "mastodon_production"
	defaultDBSSLMode    = "prefer"
	docsObjectStorage   = "https://docs.joinmastodon.org/admin/optional/object-storage/"
)

// envVars are the variables Env reads; Check refuses a command substitution in any of them.
var envVars = []string{"S3_ENABLED", "S3_BUCKET", "S3_ENDPOINT", "S3_PROTOCOL", "S3_HOSTNAME",
	"S3_REGION", "S3_KEY_PREFIX", "S3_PERMISSION", "S3_FORCE_SINGLE_REQUEST", "S3_ALIAS_HOST",
	"S3_CLOUDFRONT_HOST", "S3_OVERRIDE_PATH_STYLE", "S3_SIGNATURE_VERSION", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "SWIFT_ENABLED", "AZURE_ENABLED",
	"DB_HOST", "DB_PORT", "DB_USER", "DB_PASS", "DB_NAME", "DB_SSLMODE", "DATABASE_URL"}

// CannedACLs are the canned ACLs S3 accepts: what Mastodon passes on as S3_PERMISSION, and
// s3sync's [s3.destination] acl.
var CannedACLs = []string{"private", "public-read", "public-read-write", "authenticated-read",
	"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"}

// SSLModes are libpq's sslmode values (DB_SSLMODE, DATABASE_URL's sslmode, [pg.database]
// sslmode).
var SSLModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// EnvError is a mistake in Mastodon's environment that the admin fixes there: a variable
// Mastodon would read differently, or that s3sync cannot follow. Its message names the
// variable and never shows a secret.
type EnvError struct {
	Env  string // the environment's name (Env.Name): a file's path or "the environment"
	Var  string // the variable to change, e.g. S3_BUCKET
	Msg  string // what is wrong, without the environment's name
	Hint string // what to do instead, e.g. "S3_BUCKET=<the bucket's name>"; "" = none
}

// Error returns "name: message".
func (e *EnvError) Error() string { return e.Env + ": " + e.Msg }

// EnvFile is an environment file parsed as the dotenv gem parses it for Mastodon
// (bkeepers/dotenv, lib/dotenv/parser.rb).
type EnvFile struct {
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

// Lookup returns a variable of the file and whether the file sets it (possibly empty).
func (f *EnvFile) Lookup(key string) (string, bool) {
	v, ok := f.vars[key]
	return v, ok
}

// ParseEnvFile reads an environment file as the dotenv gem does (lib/dotenv/parser.rb):
// KEY=value, `export KEY=value` and `KEY: value` lines; values unquoted (ending at # or the
// line's end, trimmed), in single quotes (literal) or double quotes (escapes \n, \r, \" and \\,
// may span lines); $VAR and ${VAR} replaced in unquoted and double-quoted values by what the
// file set before (\$ is a dollar); # comments and blank lines; a byte order mark and CRLF line
// ends are accepted. A key set twice keeps its last value. Lines it cannot read are skipped and
// reported by Env.Check, not here; the only error is r's.
func ParseEnvFile(r io.Reader) (*EnvFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	f := &EnvFile{vars: map[string]string{}, commands: map[string]bool{}, unset: map[string][]string{}}
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
		key, raw, quote, n, ok := splitEnvEntry(entry)
		if !ok {
			f.badLines = append(f.badLines, line)
			text, line = advance(text, end, line)
			continue
		}
		f.vars[key] = f.value(key, raw, quote)
		consumed := len(text) - len(entry) + n
		line += strings.Count(text[:consumed], "\n")
		text = text[consumed:]
		if strings.HasPrefix(text, "\n") {
			text, line = text[1:], line+1
		}
	}
	return f, nil
}

// advance skips past the line ending at end.
func advance(text string, end, line int) (string, int) {
	if end < len(text) {
		return text[end+1:], line + 1
	}
	return "", line
}

// splitEnvEntry splits one entry (from its first non-blank character) into key and raw
// value, with its quote character (a single or a double quote, 0 for none) and the number of
// bytes used, up to but not including the newline ending it. ok is false when it is not KEY=value.
func splitEnvEntry(s string) (key, raw string, quote byte, n int, ok bool) {
	i := 0
	if strings.HasPrefix(s, "export") && len(s) > 6 && (s[6] == ' ' || s[6] == '\t') {
		i = 6
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	k := i
	for i < len(s) && isEnvKeyChar(s[i]) {
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

func isEnvKeyChar(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// value unescapes raw as the dotenv gem does for its quote and substitutes variables.
func (f *EnvFile) value(key, raw string, quote byte) string {
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
	return f.substitute(key, b.String())
}

// substitute replaces $NAME and ${NAME} with the file's values so far; \$ is a dollar.
func (f *EnvFile) substitute(key, s string) string {
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
			f.commands[key] = true
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
			v, ok := f.vars[name]
			if !ok {
				f.unset[key] = append(f.unset[key], name)
			}
			b.WriteString(v)
			i = j - 1
		}
	}
	return b.String()
}

// Env is Mastodon's environment: the variables of a parsed file, or of the process. Its
// methods read them as Mastodon does and return what they say, warnings for what Mastodon
// reads differently from what the admin likely meant, and an *EnvError for what s3sync
// cannot follow. The zero Env is not usable: make one with FileEnv or ProcessEnv.
type Env struct {
	name   string
	lookup func(string) (string, bool)
	file   *EnvFile // nil for the process environment
}

// FileEnv is the environment of the parsed file f; name (its path) starts every message.
func FileEnv(name string, f *EnvFile) Env {
	return Env{name: name, lookup: f.Lookup, file: f}
}

// ProcessEnv is the process environment, named "the environment" in messages. lookup tells a
// variable set empty from an unset one, as Mastodon's ENV does (os.LookupEnv): each variable
// then reads as it would in a file (S3_PERMISSION set empty sends no ACL).
func ProcessEnv(lookup func(string) (string, bool)) Env {
	return Env{name: "the environment", lookup: lookup}
}

// Name is the file's path, or "the environment".
func (e Env) Name() string { return e.name }

// Lookup returns a variable and whether it is set (possibly empty).
func (e Env) Lookup(key string) (string, bool) { return e.lookup(key) }

func (e Env) get(key string) string {
	v, _ := e.lookup(key)
	return v
}

func (e Env) errorf(variable, hint, format string, a ...any) error {
	return &EnvError{Env: e.name, Var: variable, Msg: fmt.Sprintf(format, a...), Hint: hint}
}

// Check returns the warnings of a file's parse (lines skipped, references to variables the
// file does not set) and refuses a command substitution $(…) in any variable Bucket and
// Database read: the dotenv gem runs it, s3sync does not. The process environment has neither.
func (e Env) Check() ([]string, error) {
	if e.file == nil {
		return nil, nil
	}
	var warnings []string
	for _, k := range envVars {
		if e.file.commands[k] {
			return nil, e.errorf(k, "put the value itself in the file", "%s runs a command ($(…)); s3sync does not run commands", k)
		}
		if names := e.file.unset[k]; len(names) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s refers to $%s, which the file does not set: read as empty", e.name, k, strings.Join(names, ", $")))
		}
	}
	if n := len(e.file.badLines); n > 0 {
		lines := make([]string, 0, n)
		for _, l := range e.file.badLines {
			lines = append(lines, strconv.Itoa(l))
		}
		warnings = append(warnings, fmt.Sprintf("%s: line(s) %s are not KEY=value: ignored, as Mastodon ignores them", e.name, strings.Join(lines, ", ")))
	}
	return warnings, nil
}

// EnvBucket is what Mastodon's S3 variables say about its bucket and the client it builds
// (config/initializers/paperclip.rb). Keys are never under S3_KEY_PREFIX in this package's
// other rules: KeyPrefix is for whoever reads and writes the bucket.
type EnvBucket struct {
	AccessKey string // AWS_ACCESS_KEY_ID
	SecretKey string // AWS_SECRET_ACCESS_KEY; never printed
	// Endpoint is S3_ENDPOINT without a trailing slash (https:// + it when it has no scheme);
	// "" = AWS S3 in Region.
	Endpoint string
	Bucket   string // S3_BUCKET; "" only for a bucket not current (Bucket(false))
	Region   string // S3_REGION; default DefaultS3Region
	// PathStyle is true with an Endpoint unless S3_OVERRIDE_PATH_STYLE=true; false without one
	// (AWS S3, virtual-hosted-style).
	PathStyle bool
	// KeyPrefix is S3_KEY_PREFIX without slashes at its ends; "" = none. KeyPrefixSet says
	// whether the variable is set at all.
	KeyPrefix    string
	KeyPrefixSet bool
	// ACL is S3_PERMISSION, a canned ACL: public-read when unset, "" (send none) when set
	// empty. ACLSet says whether the variable is set at all.
	ACL    string
	ACLSet bool
	// PublicURL is S3_PROTOCOL://S3_ALIAS_HOST (or S3_CLOUDFRONT_HOST), as written when it
	// already has a scheme; "" without an alias host.
	PublicURL string
	// MediaURL is where visitors read the media: PublicURL, else S3_PROTOCOL://S3_HOSTNAME/S3_BUCKET
	// (S3_HOSTNAME default s3-<region>.amazonaws.com).
	MediaURL string
	// SingleRequest is S3_FORCE_SINGLE_REQUEST=true: Mastodon downloads each object in one GET.
	SingleRequest bool
}

// Bucket reads the S3 variables as config/initializers/paperclip.rb does. S3_ENABLED must be
// exactly "true" (SWIFT_ENABLED or AZURE_ENABLED instead say the media is not in S3).
// S3_ENDPOINT, when set, is the API endpoint, with path-style requests unless
// S3_OVERRIDE_PATH_STYLE=true; without it the client talks to AWS S3 in S3_REGION.
// S3_PROTOCOL and S3_HOSTNAME build only the media URLs, as do S3_ALIAS_HOST (or
// S3_CLOUDFRONT_HOST) without the bucket (documentation: content/en/admin/optional/
// object-storage.md, "for client access to media objects"). S3_PERMISSION defaults to
// public-read and, set empty, sends no ACL. current is Mastodon's own environment: it must have
// S3_ENABLED=true, S3_BUCKET and both AWS keys (without them Mastodon would use the AWS SDK's
// own credentials). Otherwise (the new provider's values in Mastodon's names) S3_ENABLED may be
// absent and the bucket and keys empty: the caller fills them in or refuses them.
func (e Env) Bucket(current bool) (EnvBucket, []string, error) {
	var b EnvBucket
	var warnings []string
	warn := func(format string, a ...any) {
		warnings = append(warnings, e.name+": "+fmt.Sprintf(format, a...))
	}

	if v, ok := e.lookup("S3_ENABLED"); v != "true" && (current || ok) {
		for _, other := range []struct{ key, what string }{{"SWIFT_ENABLED", "OpenStack Swift"}, {"AZURE_ENABLED", "Azure Blob Storage"}} {
			if e.get(other.key) == "true" {
				return b, nil, e.errorf(other.key, "", "%s=true: Mastodon stores media in %s, not in an S3 bucket; s3sync copies between S3 buckets", other.key, other.what)
			}
		}
		what := "S3_ENABLED is not set"
		if ok {
			what = fmt.Sprintf("S3_ENABLED is %q, not true", v)
		}
		return b, nil, e.errorf("S3_ENABLED", "move the media to a bucket as "+docsObjectStorage+" describes, then set S3_ENABLED=true",
			"%s: Mastodon stores media on local disk; s3sync copies between buckets", what)
	}

	b.Bucket = strings.TrimSpace(e.get("S3_BUCKET"))
	if b.Bucket == "" && current {
		for _, k := range []string{"S3_ENDPOINT", "S3_HOSTNAME", "S3_ALIAS_HOST"} {
			if e.get(k) != "" {
				return b, nil, e.errorf("S3_BUCKET", "S3_BUCKET=<the bucket's name>", "%s is set but S3_BUCKET is not: name the bucket the media is in", k)
			}
		}
		return b, nil, e.errorf("S3_BUCKET", "S3_BUCKET=<the bucket's name>", "S3_BUCKET is missing: name the bucket the media is in")
	}

	b.Region = strings.TrimSpace(e.get("S3_REGION"))
	if b.Region == "" {
		b.Region = DefaultS3Region
	}
	protocol := strings.TrimSpace(e.get("S3_PROTOCOL"))
	if protocol == "" {
		protocol = defaultS3Protocol
	}
	hostname := strings.TrimSpace(e.get("S3_HOSTNAME"))
	endpoint, hasEndpoint := e.lookup("S3_ENDPOINT")
	endpoint = strings.TrimSpace(endpoint)
	switch {
	case endpoint != "":
		if !strings.Contains(endpoint, "://") {
			warn("S3_ENDPOINT %s has no scheme: read as %s://%s (S3_PROTOCOL)", text.RedactURL(endpoint), protocol, text.RedactURL(endpoint))
			endpoint = protocol + "://" + endpoint
		}
		u, err := url.Parse(endpoint)
		switch {
		case text.HasUserInfo(endpoint):
			return b, nil, e.errorf("S3_ENDPOINT", "", "S3_ENDPOINT must not contain a user name or password (user:password@ before the host); the keys are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return b, nil, e.errorf("S3_ENDPOINT", "S3_ENDPOINT=https://s3.example.com", "S3_ENDPOINT %q is not an http(s) URL like https://s3.example.com", text.RedactURL(endpoint))
		}
		b.Endpoint = strings.TrimRight(endpoint, "/")
		// paperclip.rb: force_path_style: ENV['S3_OVERRIDE_PATH_STYLE'] != 'true'
		b.PathStyle = e.get("S3_OVERRIDE_PATH_STYLE") != "true"
		if hostname != "" && !sameS3Host(hostname, u.Hostname()) {
			warn("S3_HOSTNAME (%s) and S3_ENDPOINT (%s) name different hosts: Mastodon sends its S3 requests to S3_ENDPOINT (S3_HOSTNAME only builds media URLs), and so does s3sync",
				hostname, text.RedactURL(b.Endpoint))
		}
	default:
		if hasEndpoint {
			warn("S3_ENDPOINT is set empty: read as unset (AWS S3 in region %s)", b.Region)
		}
		// Without S3_ENDPOINT, Mastodon's client talks to AWS S3 in S3_REGION: the endpoint stays empty.
		if hostname != "" {
			region, aws := awsS3HostRegion(hostname)
			switch {
			case !aws:
				warn("S3_HOSTNAME is %s, not an AWS host, but S3_ENDPOINT is unset: Mastodon sends its S3 requests to AWS S3 in region %s (S3_HOSTNAME only builds media URLs), and so does s3sync; if the bucket is at %s, set [s3.source] endpoint_url = %s://%s",
					hostname, b.Region, hostname, protocol, hostname)
			case region != "" && region != b.Region:
				warn("S3_HOSTNAME %s names region %s, S3_REGION is %s: Mastodon signs for S3_REGION, and so does s3sync; if check says the region is wrong, set region = %s",
					hostname, region, b.Region, region)
			}
		}
	}
	if v := e.get("S3_SIGNATURE_VERSION"); v != "" && v != "v4" && v != "4" {
		warn("S3_SIGNATURE_VERSION is %s: s3sync signs with version 4 only", v)
	}

	if p, ok := e.lookup("S3_KEY_PREFIX"); ok {
		b.KeyPrefix, b.KeyPrefixSet = strings.Trim(strings.TrimSpace(p), "/"), true
	}

	b.AccessKey = e.get("AWS_ACCESS_KEY_ID")
	b.SecretKey = e.get("AWS_SECRET_ACCESS_KEY")
	for _, k := range []struct{ name, value string }{{"AWS_ACCESS_KEY_ID", b.AccessKey}, {"AWS_SECRET_ACCESS_KEY", b.SecretKey}} {
		if current && strings.TrimSpace(k.value) == "" {
			return b, nil, e.errorf(k.name, k.name+"=<the key>", "%s is missing: without it Mastodon uses the AWS SDK's own credentials (an instance role, ~/.aws), which s3sync never reads", k.name)
		}
	}

	// paperclip.rb: ENV.fetch('S3_PERMISSION') { 'public-read' }, and no ACL when it is ''.
	b.ACL, b.ACLSet = e.lookup("S3_PERMISSION")
	b.ACL = strings.TrimSpace(b.ACL)
	if !b.ACLSet {
		b.ACL = defaultS3Permission
	}
	if b.ACL != "" && !slices.Contains(CannedACLs, b.ACL) {
		return b, nil, e.errorf("S3_PERMISSION", "S3_PERMISSION=public-read", "S3_PERMISSION %q is not a canned ACL (one of %s, or empty to send none)", b.ACL, strings.Join(CannedACLs, ", "))
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
			host = "s3-" + b.Region + ".amazonaws.com"
		}
		b.MediaURL = protocol + "://" + host + "/" + b.Bucket
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
			return DefaultS3Region, true
		case strings.HasPrefix(l, "s3-") && l != "s3-accelerate":
			return strings.TrimPrefix(l, "s3-"), true
		case l == "s3":
			next := labels[i+1:]
			if len(next) > 0 && next[0] == "dualstack" {
				next = next[1:]
			}
			if len(next) == 0 {
				return DefaultS3Region, true // s3.amazonaws.com: the global endpoint, us-east-1
			}
			return next[0], true
		}
	}
	return "", true
}

// Database reads the database variables as config/database.yml (production) and Rails do:
// DB_HOST (localhost; a path is a Unix socket directory, as mastodon:setup in
// lib/tasks/mastodon.rake writes /var/run/postgresql), DB_PORT (5432), DB_USER (mastodon),
// DB_PASS (none), DB_NAME (mastodon_production), DB_SSLMODE (prefer); empty variables count as
// unset. Rails merges DATABASE_URL over them: what the URL names wins (with a warning where a
// DB_* variable says otherwise), the rest comes from DB_*; likewise streaming/database.js takes
// DB_PASS when the URL has no password. Of the URL's parameters it reads host, port, user,
// password, dbname and sslmode. No message shows the URL or a password.
func (e Env) Database() (DBConfig, []string, error) {
	var warnings []string
	get := func(key, def string) string {
		if v := strings.TrimSpace(e.get(key)); v != "" {
			return v
		}
		return def
	}
	db := DBConfig{
		Host:     get("DB_HOST", defaultDBHost),
		User:     get("DB_USER", defaultDBUser),
		Password: e.get("DB_PASS"),
		Database: get("DB_NAME", defaultDBName),
		SSLMode:  get("DB_SSLMODE", defaultDBSSLMode),
	}
	port, err := dbPort(get("DB_PORT", strconv.Itoa(defaultDBPort)))
	if err != nil {
		return db, nil, e.errorf("DB_PORT", "DB_PORT=5432", "DB_PORT %q is not a port number from 1 to 65535", get("DB_PORT", ""))
	}
	db.Port = port

	sslVar := "DB_SSLMODE"
	if raw := strings.TrimSpace(e.get("DATABASE_URL")); raw != "" {
		w, fromURL, err := e.mergeDatabaseURL(&db, raw)
		if err != nil {
			return db, nil, err
		}
		warnings = append(warnings, w...)
		if fromURL {
			sslVar = "DATABASE_URL"
		}
	}
	if !slices.Contains(SSLModes, db.SSLMode) {
		return db, nil, e.errorf(sslVar, "DB_SSLMODE=prefer", "sslmode %q (DB_SSLMODE or DATABASE_URL) is not one of %s", db.SSLMode, strings.Join(SSLModes, ", "))
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
// database.yml; a variable of DB_* it contradicts gets a warning. sslmode says whether the URL
// set the sslmode. Messages never show the URL: it holds the password.
func (e Env) mergeDatabaseURL(db *DBConfig, raw string) (warnings []string, sslmode bool, err error) {
	bad := func(why string) error {
		return e.errorf("DATABASE_URL", "DATABASE_URL=postgres://mastodon:PASSWORD@db.example.org:5432/mastodon_production",
			"DATABASE_URL is not a postgres://user:password@host:port/database URL: %s", why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		why := "it does not parse"
		if ue, ok := err.(*url.Error); ok && !strings.Contains(ue.Err.Error(), "userinfo") {
			why = ue.Err.Error()
		}
		return nil, false, bad(why)
	}
	if s := strings.ToLower(u.Scheme); s != "postgres" && s != "postgresql" {
		return nil, false, bad(fmt.Sprintf("the scheme is %q", u.Scheme))
	}
	if u.Opaque != "" {
		return nil, false, bad("no // after the scheme")
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
		return nil, false, bad("its parameters (after ?) do not parse")
	}
	var ignored []string
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "sslmode":
			db.SSLMode, sslmode = v, true
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
			return nil, false, bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
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
	return warnings, sslmode, nil
}
