package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
	"github.com/s3sync/s3sync/internal/human"
	"github.com/s3sync/s3sync/internal/text"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/tunnel"
)

// Defaults for values the config file may leave out.
const (
	defaultConfigPath  = "private/config.ini"
	defaultCheckpoint  = "private/s3sync.db"
	defaultConcurrency = 16
	defaultRetries     = 10
	defaultACL         = "public-read"
	defaultPGPort      = 5432
)

// Bounds of [sync] min_rate and min_time (defaults: engine.DefaultMinRate, DefaultMinTime).
const (
	minMinRate = 1 << 10 // 1 KiB/s
	maxMinRate = 1 << 30 // 1 GiB/s
	minMinTime = time.Second
	maxMinTime = time.Hour
)

// Config is the parsed configuration file. Sections that are absent stay zero and are
// reported by the require* methods of the commands that need them.
type Config struct {
	Source      *storage.Config // nil when [s3.source] is absent
	Destination *storage.Config // nil when [s3.destination] is absent
	Database    *catalog.DBConfig
	Tunnel      *tunnel.Config // [pg.tunnel] when enabled = true; nil = connect directly

	Concurrency int    // [sync] concurrency, else [celery] concurrency, default 16
	Checkpoint  string // [sync] checkpoint, "" = default
	Retries     int    // [sync] retries, default 10
	ContentMD5  bool   // [sync] content_md5: send the source's MD5 ETag as Content-MD5, default true
	StatusAddr  string // [sync] status_addr: the copy's status server, "" = none
	StatusToken string // [sync] status_token or $S3SYNC_STATUS_TOKEN: required by the status server, "" = none
	RemoteCache string // [sync] remote_cache: "copy" (default) or "skip" cached remote media in plan
	ACLPolicy   string // [s3.destination] acl_policy: "fixed" (default, acl for every object) or "mastodon" (private for suspended accounts' media)
	// MinRate (bytes/s) and MinTime bound each attempt at copying one object ([sync] min_rate,
	// default 16 KiB/s; min_time, default 60 s): it may take MinTime plus its size at MinRate,
	// and after MinTime must keep moving bytes at MinRate on average (engine.CopyOptions).
	MinRate int64
	MinTime time.Duration

	Warnings []string // things ignored on purpose, logged by the caller
}

// configError names the section and key that are wrong; it is a usage error (exit 2).
type configError struct {
	section, key, msg string
}

func (e *configError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("[%s]: %s", e.section, e.msg)
	}
	return fmt.Sprintf("[%s] %s: %s", e.section, e.key, e.msg)
}

// ParseConfig reads an INI configuration. getenv supplies secret overrides (os.Getenv in main).
func ParseConfig(r io.Reader, getenv func(string) string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:              false,
		IgnoreInlineComment:      false,
		AllowBooleanKeys:         false,
		SpaceBeforeInlineComment: true,
	}, data)
	if err != nil {
		// ini's message ends with the offending line, which may hold a secret: keep the reason only.
		reason, _, _ := strings.Cut(strings.TrimSpace(err.Error()), ":")
		return nil, fmt.Errorf("not a valid INI file (%s); lines must be [section], key = value, or ; comment", reason)
	}
	cfg := &Config{Concurrency: defaultConcurrency, Retries: defaultRetries, ContentMD5: true,
		MinRate: engine.DefaultMinRate, MinTime: engine.DefaultMinTime}
	p := &parser{f: f, getenv: getenv, cfg: cfg}

	known := map[string]bool{ini.DefaultSection: true, "s3.source": true, "s3.destination": true,
		"pg.database": true, "pg.tunnel": true, "sync": true, "celery": true}
	for _, s := range f.Sections() {
		if !known[s.Name()] {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("unknown section [%s] ignored", s.Name()))
		}
	}

	if s := p.section("s3.source"); s != nil {
		cfg.Source = p.s3(s, "S3SYNC_SOURCE_", false)
	}
	if s := p.section("s3.destination"); s != nil {
		cfg.Destination = p.s3(s, "S3SYNC_DESTINATION_", true)
		cfg.ACLPolicy = p.aclPolicy(s)
	}
	if s := p.section("pg.database"); s != nil {
		cfg.Database = p.database(s)
	}
	if s := p.section("pg.tunnel"); s != nil {
		cfg.Tunnel = p.tunnel(s)
	}
	if s := p.section("celery"); s != nil {
		p.known(s, "concurrency", "broker", "backend")
		if s.HasKey("concurrency") {
			cfg.Concurrency = p.integer(s, "concurrency", defaultConcurrency, 1, maxConcurrency)
		}
		for _, k := range []string{"broker", "backend"} {
			if s.HasKey(k) {
				cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("[celery] %s is ignored: s3sync needs no queue server", k))
			}
		}
	}
	if s := p.section("sync"); s != nil {
		p.known(s, "concurrency", "checkpoint", "retries", "content_md5", "status_addr", "status_token", "remote_cache", "min_rate", "min_time")
		if s.HasKey("concurrency") {
			cfg.Concurrency = p.integer(s, "concurrency", defaultConcurrency, 1, maxConcurrency)
		}
		cfg.Checkpoint = strings.TrimSpace(s.Key("checkpoint").String())
		cfg.Retries = p.integer(s, "retries", defaultRetries, 0, 100)
		cfg.ContentMD5 = p.boolean(s, "content_md5", true)
		cfg.StatusAddr = p.statusAddr(s)
		cfg.StatusToken = p.str(s, "status_token")
		cfg.RemoteCache = p.remoteCache(s)
		cfg.MinRate = p.minRate(s)
		cfg.MinTime = p.minTime(s)
	}
	if v := getenv("S3SYNC_STATUS_TOKEN"); v != "" {
		cfg.StatusToken = v
	}
	if p.err != nil {
		return nil, p.err
	}
	if cfg.Source != nil && cfg.Destination != nil && sameLocation(cfg.Source, cfg.Destination) {
		return nil, &configError{"s3.destination", "bucket",
			fmt.Sprintf("source and destination are the same bucket (%q at %s); point [s3.destination] at the new bucket", cfg.Destination.Bucket, endpointName(cfg.Destination.Endpoint))}
	}
	return cfg, nil
}

// parser keeps the first error, so each accessor can be called without checks.
type parser struct {
	f      *ini.File
	getenv func(string) string
	cfg    *Config
	err    error
}

func (p *parser) fail(section, key, format string, a ...any) {
	if p.err == nil {
		p.err = &configError{section, key, fmt.Sprintf(format, a...)}
	}
}

func (p *parser) section(name string) *ini.Section {
	s, err := p.f.GetSection(name)
	if err != nil {
		return nil
	}
	return s
}

// known warns about keys nobody reads: most often a typo.
func (p *parser) known(s *ini.Section, keys ...string) {
	ok := map[string]bool{}
	for _, k := range keys {
		ok[k] = true
	}
	for _, k := range s.KeyStrings() {
		if !ok[k] {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("[%s] %s is not a known key; ignored", s.Name(), k))
		}
	}
}

func (p *parser) str(s *ini.Section, key string) string {
	return strings.TrimSpace(s.Key(key).String())
}

// secret returns the env override when set, else the file's value.
func (p *parser) secret(s *ini.Section, key, env string) string {
	if v := p.getenv(env); v != "" {
		return v
	}
	return p.str(s, key)
}

func (p *parser) boolean(s *ini.Section, key string, def bool) bool {
	v := p.str(s, key)
	if v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	p.fail(s.Name(), key, "%q is not a boolean (use true or false)", v)
	return def
}

func (p *parser) integer(s *ini.Section, key string, def, min, max int) int {
	v := p.str(s, key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(s.Name(), key, "%q is not a whole number from %d to %d", v, min, max)
		return def
	}
	return n
}

func (p *parser) required(s *ini.Section, key, value string) {
	if value == "" {
		p.fail(s.Name(), key, "is missing or empty")
	}
}

func (p *parser) s3(s *ini.Section, envPrefix string, destination bool) *storage.Config {
	keys := []string{"access_key", "secret_key", "endpoint_url", "bucket", "region", "path_style", "key_prefix"}
	if destination {
		keys = append(keys, "acl", "acl_policy", "public_url")
	}
	p.known(s, keys...)
	c := &storage.Config{
		AccessKey: p.secret(s, "access_key", envPrefix+"ACCESS_KEY"),
		SecretKey: p.secret(s, "secret_key", envPrefix+"SECRET_KEY"),
		Endpoint:  p.str(s, "endpoint_url"),
		Bucket:    p.str(s, "bucket"),
		Region:    p.str(s, "region"),
		PathStyle: p.boolean(s, "path_style", false),
		KeyPrefix: strings.Trim(p.str(s, "key_prefix"), "/"),
	}
	p.required(s, "access_key", c.AccessKey)
	p.required(s, "secret_key", c.SecretKey)
	p.required(s, "bucket", c.Bucket)
	if c.Endpoint == "" && c.Region == "" {
		p.fail(s.Name(), "endpoint_url", "is empty and so is region: set endpoint_url to the provider's S3 URL, or region for AWS S3")
	}
	if c.Endpoint != "" {
		// No message echoes the value as written: it may hold a password (user:pass@host).
		u, err := url.Parse(c.Endpoint)
		switch {
		case text.HasUserInfo(c.Endpoint):
			p.fail(s.Name(), "endpoint_url", "must not contain a user name or password (user:password@ before the host); s3sync signs requests with access_key and secret_key: remove them from the URL")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.fail(s.Name(), "endpoint_url", "%q is not an http(s) URL like https://s3.example.com", text.RedactURL(c.Endpoint))
		case u.Port() != "":
			if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
				p.fail(s.Name(), "endpoint_url", "%q has an invalid port", text.RedactURL(c.Endpoint))
			}
		}
	}
	if destination {
		c.ACL = defaultACL
		if s.HasKey("acl") {
			c.ACL = p.str(s, "acl")
		}
		if c.ACL != "" && !slices.Contains(catalog.CannedACLs, c.ACL) {
			p.fail(s.Name(), "acl", "%q is not a canned ACL (one of %s, or empty to send none)", c.ACL, strings.Join(catalog.CannedACLs, ", "))
		}
		c.PublicURL = p.str(s, "public_url")
		if c.PublicURL != "" {
			u, err := url.Parse(c.PublicURL)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				p.fail(s.Name(), "public_url", "is not an http(s) URL like https://media.example.org (Mastodon's S3_ALIAS_HOST with https:// in front)")
			case u.User != nil:
				p.fail(s.Name(), "public_url", "must not contain a user name or password")
			case u.RawQuery != "" || u.Fragment != "":
				p.fail(s.Name(), "public_url", "must not have a query or fragment")
			}
		}
	}
	return c
}

func (p *parser) database(s *ini.Section) *catalog.DBConfig {
	p.known(s, "host", "port", "user", "password", "database", "sslmode")
	c := &catalog.DBConfig{
		Host:     p.str(s, "host"),
		Port:     p.integer(s, "port", defaultPGPort, 1, 65535),
		User:     p.str(s, "user"),
		Password: p.secret(s, "password", "S3SYNC_PG_PASSWORD"),
		Database: p.str(s, "database"),
		SSLMode:  p.str(s, "sslmode"),
	}
	p.required(s, "host", c.Host)
	p.required(s, "user", c.User)
	p.required(s, "database", c.Database)
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	if !slices.Contains(catalog.SSLModes, c.SSLMode) {
		p.fail(s.Name(), "sslmode", "%q is not one of %s", c.SSLMode, strings.Join(catalog.SSLModes, ", "))
	}
	return c
}

// requestRetries is [sync] retries as the engine's single requests take it (verify's HEADs,
// fix-acl's PutObjectAcl): 0 there means the default, so no retries is -1.
func (c *Config) requestRetries() int {
	if c.Retries == 0 {
		return -1
	}
	return c.Retries
}

// requireS3 reports a missing S3 section for commands that copy.
func (c *Config) requireS3() error {
	if c.Source == nil {
		return &configError{section: "s3.source", msg: "section is missing"}
	}
	if c.Destination == nil {
		return &configError{section: "s3.destination", msg: "section is missing"}
	}
	return nil
}

// requireDatabase reports a missing database section for commands that read it.
func (c *Config) requireDatabase() error {
	if c.Database == nil {
		return &configError{section: "pg.database", msg: "section is missing"}
	}
	return nil
}

// checkpointPath picks --checkpoint, else [sync] checkpoint, else the default.
func (c *Config) checkpointPath(flag string) string {
	switch {
	case flag != "":
		return flag
	case c != nil && c.Checkpoint != "":
		return c.Checkpoint
	}
	return defaultCheckpoint
}

// configPath resolves --config / S3SYNC_CONFIG, then CONFIG_FILE_NAME (a name inside private/), then the default.
func configPath(flag string, getenv func(string) string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if name := getenv("CONFIG_FILE_NAME"); name != "" {
		return filepath.Join("private", name), true
	}
	return defaultConfigPath, false
}

// loadConfig opens and parses the config file. A missing file is a usage error with a hint.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageErrorf("copy private/config.sample.ini to "+shellQuote(path)+" and fill it in, or pass --config FILE",
				"config file %s not found", path)
		}
		return nil, usageErrorf("", "config file %s: %v", path, err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f, getenv)
	if err != nil {
		return nil, usageErrorf("", "config file %s: %v", path, err)
	}
	return cfg, nil
}

func sameLocation(a, b *storage.Config) bool {
	return strings.TrimRight(a.Endpoint, "/") == strings.TrimRight(b.Endpoint, "/") &&
		a.Bucket == b.Bucket && a.KeyPrefix == b.KeyPrefix
}

func endpointName(e string) string {
	if e == "" {
		return "AWS S3"
	}
	return text.RedactURL(e)
}

// minRate reads [sync] min_rate: a rate such as 16K, 64KiB/s, 1M or 65536 (bytes per second).
func (p *parser) minRate(s *ini.Section) int64 {
	v := p.str(s, "min_rate")
	if v == "" {
		return engine.DefaultMinRate
	}
	n, err := human.ParseBytes(v)
	if err != nil || n < minMinRate || n > maxMinRate {
		p.fail(s.Name(), "min_rate", "%q is not a rate from 1K to 1G per second, such as 16K (the default), 64KiB/s or 1M", v)
		return engine.DefaultMinRate
	}
	return n
}

// minTime reads [sync] min_time: a duration such as 60s, 2m or 90 (seconds).
func (p *parser) minTime(s *ini.Section) time.Duration {
	v := p.str(s, "min_time")
	if v == "" {
		return engine.DefaultMinTime
	}
	d, err := time.ParseDuration(v)
	if n, aerr := strconv.Atoi(v); aerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < minMinTime || d > maxMinTime {
		p.fail(s.Name(), "min_time", "%q is not a duration from 1s to 1h, such as 60s (the default), 2m or 90", v)
		return engine.DefaultMinTime
	}
	return d
}

// redactLocation returns a location a checkpoint recorded (see location) fit for messages:
// s3sync before 2026-11 accepted, and recorded, an endpoint with a password in it.
func redactLocation(loc string) string {
	endpoint, rest, ok := strings.Cut(loc, " s3://")
	if !ok {
		return text.RedactURL(loc)
	}
	if endpoint == "AWS S3" {
		return loc
	}
	return text.RedactURL(endpoint) + " s3://" + rest
}

// location is the identity a checkpoint records for a bucket: endpoint, bucket and key prefix.
func location(c *storage.Config) string {
	s := endpointName(strings.TrimRight(c.Endpoint, "/")) + " s3://" + c.Bucket // endpointName redacts
	if c.KeyPrefix != "" {
		s += "/" + c.KeyPrefix
	}
	return s
}

// Values of [sync] remote_cache.
const (
	remoteCacheCopy = "copy"
	remoteCacheSkip = "skip"
)

// remoteCache parses [sync] remote_cache: copy (default) or skip.
func (p *parser) remoteCache(s *ini.Section) string {
	return p.oneOf(s, "remote_cache", "is neither copy nor skip", remoteCacheCopy, remoteCacheSkip)
}

// oneOf reads key as one of values, in any case; empty is the first of them. Another value
// fails with the value and why.
func (p *parser) oneOf(s *ini.Section, key, why string, values ...string) string {
	v := strings.ToLower(p.str(s, key))
	if v == "" {
		return values[0]
	}
	if slices.Contains(values, v) {
		return v
	}
	p.fail(s.Name(), key, "%q %s", v, why)
	return values[0]
}

// statusAddr reads [sync] status_addr: empty, or an address statusserver.ListenAddr accepts.
func (p *parser) statusAddr(s *ini.Section) string {
	v := p.str(s, "status_addr")
	if v == "" {
		return ""
	}
	if _, _, err := statusserver.ListenAddr(v); err != nil {
		p.fail(s.Name(), "status_addr", "%v (want host:port such as 127.0.0.1:5555, or a port)", err)
	}
	return v
}

// ACL policies of [s3.destination] acl_policy.
const (
	aclPolicyFixed    = "fixed"    // the configured acl for every object (default)
	aclPolicyMastodon = "mastodon" // private for suspended accounts' media, acl for the rest
)

// aclPolicy reads [s3.destination] acl_policy: fixed (default) or mastodon.
func (p *parser) aclPolicy(s *ini.Section) string {
	return p.oneOf(s, "acl_policy", "is not a policy (fixed: acl for every object; mastodon: private for suspended accounts' media, acl for the rest)",
		aclPolicyFixed, aclPolicyMastodon)
}

// privateACL is the ACL copy and fix-acl write for objects of suspended accounts instead of
// [s3.destination] acl: "private" under acl_policy = mastodon, as Mastodon's
// SuspendAccountService does; "" otherwise. With an empty acl nothing is sent anyway (Mastodon
// skips ACL calls when S3_PERMISSION is empty).
func (c *Config) privateACL() string {
	if c.ACLPolicy == aclPolicyMastodon {
		return "private"
	}
	return ""
}

// The [pg.tunnel] keys, and the environment variables that may carry its secrets.
var tunnelKeys = []string{"enabled", "ssh_host", "ssh_port", "ssh_user", "ssh_password", "ssh_key",
	"ssh_key_passphrase", "known_hosts", "insecure_ignore_host_key", "local_host", "local_port"}

const (
	envSSHPassword      = "S3SYNC_SSH_PASSWORD"
	envSSHKeyPassphrase = "S3SYNC_SSH_KEY_PASSPHRASE"
)

// tunnel parses [pg.tunnel]: nil unless enabled = true. Paths stay as written; openCatalog
// resolves them.
func (p *parser) tunnel(s *ini.Section) *tunnel.Config {
	p.known(s, tunnelKeys...)
	if !p.boolean(s, "enabled", false) {
		return nil
	}
	c := &tunnel.Config{
		Host:                  p.str(s, "ssh_host"),
		Port:                  p.integer(s, "ssh_port", 22, 1, 65535),
		User:                  p.str(s, "ssh_user"),
		Password:              p.secret(s, "ssh_password", envSSHPassword),
		KeyFile:               p.str(s, "ssh_key"),
		KeyPassphrase:         p.secret(s, "ssh_key_passphrase", envSSHKeyPassphrase),
		KnownHosts:            p.str(s, "known_hosts"),
		InsecureIgnoreHostKey: p.boolean(s, "insecure_ignore_host_key", false),
	}
	p.required(s, "ssh_host", c.Host)
	p.required(s, "ssh_user", c.User)
	host := p.str(s, "local_host")
	if host != "" && !tunnel.IsLoopback(host) {
		p.fail(s.Name(), "local_host", "%q is not a loopback address: a forward there would open the database to the network; use 127.0.0.1, or leave local_host and local_port empty (s3sync needs no local port)", host)
	}
	if p.str(s, "local_port") != "" {
		port := p.integer(s, "local_port", 0, 1, 65535)
		if host == "" {
			host = "127.0.0.1"
		}
		c.LocalAddr = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if c.InsecureIgnoreHostKey {
		p.cfg.Warnings = append(p.cfg.Warnings, "WARNING: [pg.tunnel] insecure_ignore_host_key = true: the SSH server's host key is not verified")
	}
	return c
}
