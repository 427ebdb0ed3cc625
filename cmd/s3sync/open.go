package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/tunnel"
)

// s3Config loads the configuration of a command that talks to both buckets.
func (g *globals) s3Config() (*Config, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if err := cfg.requireS3(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// config loads the configuration file the global flags and environment point at, once per
// run. It also refuses a checkpoint path that is a dangling symlink, and for commands that
// talk to S3 warns once when a proxy from the environment carries their requests.
func (g *globals) config() (*Config, error) {
	if g.cfg != nil {
		return g.cfg, nil
	}
	path, _ := configPath(g.configFlag, g.getenv)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usageErrorf("copy private/config.sample.ini to "+shellQuote(path)+" and fill it in, or pass --config FILE",
			"config file %s not found", path)
	}
	cfg, err := loadConfig(path, g.getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		g.log.Warn().Msg(w)
	}
	if err := checkCheckpointPath(cfg.checkpointPath(g.checkpoint)); err != nil {
		return nil, err
	}
	if !g.proxyNoted && talksToS3[g.command] {
		g.proxyNoted = true
		warnProxies(g.log, cfg)
	}
	g.cfg = cfg
	return cfg, nil
}

// optionalConfig is config for commands that work without a config file: nil, and no error,
// when none was named (--config, S3SYNC_CONFIG) and the default one does not exist.
func (g *globals) optionalConfig() (*Config, error) {
	path, explicit := configPath(g.configFlag, g.getenv)
	if _, err := os.Stat(path); err != nil && !explicit {
		return nil, nil
	}
	return g.config()
}

// openCheckpoint opens the checkpoint at path, explaining a lock held by another s3sync.
func openCheckpoint(path string, readOnly bool) (*checkpoint.DB, error) {
	if err := checkCheckpointPath(path); err != nil {
		return nil, err
	}
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: readOnly, Timeout: time.Second})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, checkpoint.ErrLocked):
		return nil, lockedError(path)
	case errors.Is(err, os.ErrNotExist):
		return nil, usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	return nil, fmt.Errorf("checkpoint %s: %w", path, err)
}

// peekCheckpoint opens the checkpoint at path read-only for a look that must not wait long
// (report, check): locked is true, with no checkpoint and no error, when a running s3sync
// holds it. A checkpoint that does not exist is a usage error naming plan.
func peekCheckpoint(path string, wait time.Duration) (db *checkpoint.DB, locked bool, err error) {
	if err := checkCheckpointPath(path); err != nil {
		return nil, false, err
	}
	db, err = checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: wait})
	switch {
	case err == nil:
		return db, false, nil
	case errors.Is(err, checkpoint.ErrLocked):
		return nil, true, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, false, usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	return nil, false, fmt.Errorf("checkpoint %s: %w", path, err)
}

// lockedError explains a checkpoint whose lock another process holds, naming the running
// command when its status file tells.
func lockedError(path string) error {
	if st, err := engine.ReadStatus(engine.StatusPath(path)); err == nil && st.Alive() {
		return fmt.Errorf("checkpoint %s is in use by a running `s3sync %s` (pid %d); wait for it, or stop it with Ctrl-C (it can be resumed)", path, st.Command, st.PID)
	}
	return fmt.Errorf("checkpoint %s is in use by another s3sync process", path)
}

// checkLocations makes sure a checkpoint is only ever used with the buckets it was planned
// for; with record (plan), a checkpoint that has none yet takes the configured ones.
func checkLocations(db *checkpoint.DB, cfg *Config, record bool) error {
	have, err := db.Identity()
	if err != nil {
		return err
	}
	want := checkpoint.Identity{Source: location(cfg.Source), Destination: location(cfg.Destination)}
	if have.Source == "" || have.Destination == "" {
		if !record {
			return usageErrorf("s3sync plan", "checkpoint %s has no plan yet", db.Path())
		}
		return db.SetIdentity(want)
	}
	for _, side := range []struct{ name, have, want string }{
		{"source", have.Source, want.Source}, {"destination", have.Destination, want.Destination},
	} {
		if side.have != side.want {
			// A checkpoint of an older s3sync may hold an endpoint with a password in it.
			return usageErrorf("use another --checkpoint for a different migration, or point the config back at "+redactLocation(side.have),
				"checkpoint %s was planned for %s %s, but [s3.%s] now points at %s", db.Path(), side.name, redactLocation(side.have), side.name, redactLocation(side.want))
		}
	}
	return nil
}

// writeRunning records that a command holds the checkpoint, for `report` to explain the lock.
func (g *globals) writeRunning(path, command string) { g.writeRunningAt(path, command, "") }

// writeRunningAt is writeRunning that also records where the command's status server listens
// ("" = none), for `report` and `status` to ask it.
func (g *globals) writeRunningAt(path, command, statusAddr string) {
	st := engine.Status{PID: os.Getpid(), Command: command, Running: true, StartedAt: time.Now(), UpdatedAt: time.Now(), StatusAddr: statusAddr}
	if err := engine.WriteStatus(engine.StatusPath(path), st); err != nil {
		g.log.Warn().Err(err).Msg("cannot write the status file")
	}
}

// writeStopped marks the status file as no longer running, keeping the last counts.
func (g *globals) writeStopped(path string, db *checkpoint.DB) {
	st, _ := engine.ReadStatus(engine.StatusPath(path))
	st.Running, st.UpdatedAt = false, time.Now()
	if counts, err := db.Counts(); err == nil {
		st.Counts = counts
	}
	if err := engine.WriteStatus(engine.StatusPath(path), st); err != nil {
		g.log.Warn().Err(err).Msg("cannot write the status file")
	}
}

// checkCheckpointPath refuses a checkpoint path that is a symlink to nothing (a target that
// does not exist, or a loop): opening it for writing would create the target, wherever the
// link points. A symlink to an existing file, and a path that does not exist, pass.
func checkCheckpointPath(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		target, _ := os.Readlink(path)
		why := "which does not exist"
		if !errors.Is(err, os.ErrNotExist) {
			why = fmt.Sprintf("which cannot be followed (%v)", errors.Unwrap(err))
		}
		return usageErrorf("point the link at an existing checkpoint, or remove it (rm "+shellQuote(path)+") so that plan creates the checkpoint there",
			"checkpoint %s is a symlink to %s, %s; s3sync does not create a checkpoint through a dangling symlink", path, target, why)
	}
	return nil
}

// checkpointHeld reports whether another process holds the checkpoint at path open for
// writing, as a running copy does: a shared (read-only) open of it times out. A checkpoint
// that does not exist, or cannot be opened for another reason, is not held.
func checkpointHeld(path string) bool {
	if checkCheckpointPath(path) != nil {
		return false
	}
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err == nil {
		db.Close()
		return false
	}
	return errors.Is(err, checkpoint.ErrLocked)
}

// openPlannedCheckpoint opens the configured checkpoint (--checkpoint, else [sync]
// checkpoint) as openPlannedAt does, and returns its path.
func openPlannedCheckpoint(g *globals, cfg *Config, readOnly bool) (*checkpoint.DB, string, error) {
	if err := cfg.requireS3(); err != nil {
		return nil, "", err
	}
	path := cfg.checkpointPath(g.checkpoint)
	db, err := openPlannedAt(cfg, path, readOnly)
	return db, path, err
}

// openPlannedAt opens the checkpoint at path, which plan must have made, and checks that it
// was planned for the configured buckets.
func openPlannedAt(cfg *Config, path string, readOnly bool) (*checkpoint.DB, error) {
	if err := checkCheckpointPath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usageErrorf("s3sync plan", "checkpoint %s does not exist yet", path)
	}
	db, err := openCheckpoint(path, readOnly)
	if err != nil {
		return nil, err
	}
	if err := checkLocations(db, cfg, false); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openBuckets makes the source and destination clients, with an idle connection per worker,
// and checks both buckets. tune, when not nil, adjusts the two configurations first (request
// limits, observers).
func openBuckets(ctx context.Context, cfg *Config, conc int, tune func(src, dst *storage.Config)) (src, dst *storage.Client, err error) {
	srcCfg, dstCfg := withConns(*cfg.Source, conc), withConns(*cfg.Destination, conc)
	if tune != nil {
		tune(&srcCfg, &dstCfg)
	}
	if src, err = openBucket(ctx, "s3.source", srcCfg); err != nil {
		return nil, nil, err
	}
	if dst, err = openBucket(ctx, "s3.destination", dstCfg); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// openSource makes the source client for conc workers and checks the bucket.
func openSource(ctx context.Context, cfg *Config, conc int) (*storage.Client, error) {
	return openBucket(ctx, "s3.source", withConns(*cfg.Source, conc))
}

// openDestination makes the destination client for conc workers and checks the bucket.
func openDestination(ctx context.Context, cfg *Config, conc int) (*storage.Client, error) {
	return openBucket(ctx, "s3.destination", withConns(*cfg.Destination, conc))
}

// withConns keeps an idle connection per worker: with fewer, the connections above the pool's
// size are closed after each request and opened again for the next, a round trip each over a
// WAN.
func withConns(c storage.Config, conc int) storage.Config {
	c.MaxConns = max(c.MaxConns, conc, storage.DefaultMaxConns)
	return c
}

// openBucket makes the client of the bucket of config section and checks the bucket.
func openBucket(ctx context.Context, section string, c storage.Config) (*storage.Client, error) {
	cl, err := storage.New(c)
	if err != nil {
		return nil, &configError{section, "", err.Error()}
	}
	if err := cl.CheckBucket(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// openMerged opens the checkpoints of `<command> --merge a.db b.db …` as one set (see
// openSet) and checks that they were planned for the configured buckets. The caller closes
// the returned checkpoints, also on error (those opened so far).
func openMerged(cfg *Config, command string, merge bool, paths []string, readOnly bool) ([]*checkpoint.DB, error) {
	if err := mergeArgs(command, merge, paths); err != nil {
		return nil, err
	}
	if err := cfg.requireS3(); err != nil {
		return nil, err
	}
	dbs, err := openSet(paths, readOnly)
	if err != nil {
		return dbs, err
	}
	return dbs, checkLocations(dbs[0], cfg, false)
}

// mergeArgs checks the arguments of a --merge command: checkpoints, and only with --merge.
func mergeArgs(command string, merge bool, paths []string) error {
	if !merge {
		return usageErrorf("s3sync "+command+" --merge "+joinArgs(paths), "%s takes checkpoints as arguments only with --merge", command)
	}
	if len(paths) == 0 {
		return usageErrorf("s3sync "+command+" --merge private/s3sync-*-of-4.db", "--merge needs the checkpoints to combine as arguments")
	}
	return nil
}

// openSet opens checkpoint files given together, the shards of one migration
// (checkpoint.OpenSet): each must exist, be given once, belong to the same buckets as the
// first, and hold a shard no other one holds. One in use by a running s3sync is refused
// before any is used. The caller closes the returned checkpoints, also on error.
func openSet(paths []string, readOnly bool) ([]*checkpoint.DB, error) {
	for _, path := range paths {
		if err := checkCheckpointPath(path); err != nil {
			return nil, err
		}
	}
	locate := func(id checkpoint.Identity) string {
		return redactLocation(id.Source) + " → " + redactLocation(id.Destination)
	}
	dbs, err := checkpoint.OpenSet(paths, checkpoint.Options{ReadOnly: readOnly, Timeout: time.Second}, locate)
	var se *checkpoint.SetError
	var fe *checkpoint.FileError
	switch {
	case err == nil:
		return dbs, nil
	case errors.As(err, &se):
		return dbs, usageErrorf("", "%v", se)
	case !errors.As(err, &fe):
		return dbs, err
	case errors.Is(err, checkpoint.ErrLocked):
		return dbs, fmt.Errorf("%v; --merge reads checkpoints that are not running (use `s3sync report --checkpoint %s` for a running one)", lockedError(fe.Path), shellQuote(fe.Path))
	case errors.Is(err, os.ErrNotExist):
		return dbs, usageErrorf("", "checkpoint %s does not exist", fe.Path)
	}
	return dbs, err
}

func closeAll(dbs []*checkpoint.DB) {
	for _, db := range dbs {
		db.Close()
	}
}

// shardCheckpointPath is the checkpoint of shard s: --checkpoint when given, else the configured
// (or default) checkpoint with "-I-of-N" before its extension, in the same directory
// (private/s3sync.db → private/s3sync-0-of-4.db).
func shardCheckpointPath(cfg *Config, flag string, s engine.Shard) string {
	path := cfg.checkpointPath(flag)
	if flag != "" || !s.Sharded() {
		return path
	}
	return shardName(path, s)
}

// shardName puts "-I-of-N" before the extension of path.
func shardName(path string, s engine.Shard) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + fmt.Sprintf("-%d-of-%d", s.I, s.N) + ext
}

// checkShard makes sure a checkpoint is used with the shard it was planned for. plan records
// the shard in a checkpoint that has none yet (record); copy and retry-failed refuse a
// mismatch only when --shard was given.
func checkShard(db *checkpoint.DB, s engine.Shard, record bool) error {
	want := checkpoint.ShardAll
	if s.Sharded() {
		want = s.String()
	}
	id, err := db.Identity()
	if err != nil {
		return err
	}
	have := id.Shard
	switch {
	case have == "" && record:
		return db.SetIdentity(checkpoint.Identity{Shard: want})
	case have == "" || have == want:
		return nil
	case !record && !s.Sharded():
		return nil // copy --checkpoint s3sync-1-of-4.db without --shard: the file says which shard
	}
	hint := "--shard " + have
	if have == checkpoint.ShardAll {
		hint = "no --shard (or another --checkpoint)"
	}
	return usageErrorf(hint, "checkpoint %s holds shard %s, not %s", db.Path(), have, want)
}

// talksToS3 are the commands whose S3 requests a proxy from the environment would carry.
var talksToS3 = map[string]bool{
	"copy": true, "retry-failed": true, "check": true, "verify": true, "orphans": true,
	"fix-acl": true, "cleanup-uploads": true,
}

// warnProxies logs one WARNING when HTTP_PROXY, HTTPS_PROXY (or their lower-case forms) send
// the requests to the configured endpoints through a proxy: the storage client's transport
// uses http.ProxyFromEnvironment, so a variable left in a shell or a unit file silently routes
// every object, and the signed requests, through another machine. The decision is the
// transport's own (the same function, asked with a request to each endpoint), so NO_PROXY and
// Go's never-proxied loopback addresses are honoured. The proxy is named by scheme and host
// only, never with its user or password.
func warnProxies(log zerolog.Logger, cfg *Config) {
	byProxy := map[string][]string{}
	add := func(rawURL string) {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return
		}
		p, err := http.ProxyFromEnvironment(&http.Request{URL: u, Header: http.Header{}})
		if err != nil || p == nil {
			return
		}
		name := p.Scheme + "://" + p.Host
		if !slices.Contains(byProxy[name], u.Host) {
			byProxy[name] = append(byProxy[name], u.Host)
		}
	}
	for _, c := range []*storage.Config{cfg.Source, cfg.Destination} {
		if c == nil {
			continue
		}
		add(requestURL(c))
		if c.PublicURL != "" {
			add(c.PublicURL) // check and verify --public read it with the same transport
		}
	}
	if len(byProxy) == 0 {
		return
	}
	proxies := make([]string, 0, len(byProxy))
	var endpoints []string
	for p, hosts := range byProxy {
		proxies = append(proxies, p)
		endpoints = append(endpoints, hosts...)
	}
	sort.Strings(proxies)
	sort.Strings(endpoints)
	log.Warn().Str("proxy", strings.Join(proxies, ", ")).Str("endpoints", strings.Join(endpoints, ", ")).
		Str("hint", "unset HTTP_PROXY and HTTPS_PROXY, or list the endpoints in NO_PROXY, unless the proxy is meant").
		Msg("S3 requests go through a proxy from the environment (HTTP_PROXY/HTTPS_PROXY): every object and request passes through it")
}

// requestURL is a URL of the kind the S3 client requests for bucket c: the endpoint, with the
// bucket in the host name unless path_style, or AWS S3's regional endpoint.
func requestURL(c *storage.Config) string {
	if c.Endpoint == "" {
		return "https://" + c.Bucket + ".s3." + c.Region + ".amazonaws.com/"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return c.Endpoint
	}
	if !c.PathStyle && c.Bucket != "" && !strings.Contains(c.Bucket, ".") {
		u.Host = c.Bucket + "." + u.Host
	}
	return u.String()
}

// openCatalog connects to the Mastodon database, through an SSH tunnel when [pg.tunnel] is
// enabled. close releases the connection and the tunnel.
func openCatalog(ctx context.Context, g *globals, cfg *Config) (reader *catalog.Reader, close func(), err error) {
	db := *cfg.Database
	var tun *tunnel.Tunnel
	if cfg.Tunnel != nil {
		tc, err := tunnelConfig(cfg, g.getenv)
		if err != nil {
			return nil, nil, err
		}
		tc.Log = g.log
		tun, err = tunnel.Open(ctx, tc)
		if err != nil {
			return nil, nil, tunnelError(err)
		}
		db.DialFunc = tun.DialContext
		g.log.Debug().Str("ssh", tc.User+"@"+tc.Address()).Str("database", db.String()).Msg("connecting through the SSH tunnel")
	}
	reader, err = catalog.Open(ctx, db)
	if err != nil {
		if tun != nil {
			tun.Close()
		}
		return nil, nil, err
	}
	return reader, func() {
		reader.Close()
		if tun != nil {
			tun.Close()
		}
	}, nil
}

// tunnelConfig completes [pg.tunnel] for tunnel.Open: the key file found, ~ expanded, the
// agent from SSH_AUTH_SOCK, and the database's address as the forward's destination.
func tunnelConfig(cfg *Config, getenv func(string) string) (tunnel.Config, error) {
	tc := *cfg.Tunnel
	tc.AgentSocket = getenv("SSH_AUTH_SOCK")
	if tc.KeyFile != "" {
		key, err := findKeyFile(tc.KeyFile, ".")
		if err != nil {
			return tc, err
		}
		tc.KeyFile = key
	}
	tc.KnownHosts = expandHome(tc.KnownHosts)
	port := cfg.Database.Port
	if port == 0 {
		port = defaultPGPort
	}
	tc.ForwardAddr = net.JoinHostPort(cfg.Database.Host, strconv.Itoa(port))
	return tc, nil
}

// findKeyFile resolves ssh_key: ~ is the home directory; a relative path is looked up in
// dir (the working directory), then inside private/ there, where the old tool kept keys.
func findKeyFile(path, dir string) (string, error) {
	path = expandHome(path)
	if filepath.IsAbs(path) {
		return path, nil
	}
	tried := []string{filepath.Join(dir, path)}
	if !strings.HasPrefix(filepath.Clean(path), "private"+string(filepath.Separator)) {
		tried = append(tried, filepath.Join(dir, "private", path))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", &configError{"pg.tunnel", "ssh_key", fmt.Sprintf("%s not found (looked for %s)", path, strings.Join(tried, " and "))}
}

func expandHome(path string) string {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return path
	}
	return filepath.Join(home, path[1:])
}

// tunnelFields maps tunnel.Config fields to their [pg.tunnel] keys.
var tunnelFields = map[string]string{
	"Host": "ssh_host", "Port": "ssh_port", "User": "ssh_user", "Password": "ssh_password",
	"KeyFile": "ssh_key", "KeyPassphrase": "ssh_key_passphrase", "KnownHosts": "known_hosts",
	"LocalAddr": "local_port",
}

// tunnelError turns a tunnel.ConfigError into a configError naming the [pg.tunnel] key (exit
// 2); SSH failures stay runtime errors (exit 1).
func tunnelError(err error) error {
	var tce *tunnel.ConfigError
	if !errors.As(err, &tce) {
		return err
	}
	msg := tce.Msg
	switch tce.Field {
	case "":
		msg = "no way to log in: set ssh_key or ssh_password (or " + envSSHPassword + "), or run an ssh-agent (SSH_AUTH_SOCK)"
	case "KeyPassphrase":
		msg += "; set ssh_key_passphrase or " + envSSHKeyPassphrase
	}
	return &configError{"pg.tunnel", tunnelFields[tce.Field], msg}
}
