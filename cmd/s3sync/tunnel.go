package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/tunnel"
)

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
