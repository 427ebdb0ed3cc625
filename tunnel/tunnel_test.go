package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/internal/testio"
	"github.com/s3sync/s3sync/tunnel"
	"github.com/s3sync/s3sync/tunnel/sshtest"
)

// openTunnel opens a tunnel and closes it when the test ends.
func openTunnel(t *testing.T, cfg tunnel.Config) *tunnel.Tunnel {
	t.Helper()
	tun, err := tunnel.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open tunnel: %v", err)
	}
	t.Cleanup(func() { tun.Close() })
	return tun
}

// through returns db's config with its connections made through tun.
func through(db *pgtest.Database, tun *tunnel.Tunnel) catalog.DBConfig {
	cfg := db.Config
	cfg.DialFunc = tun.DialContext
	return cfg
}

// backupsDB returns a database with backups 1..n ("<id>.zip"), scanned in pages of 3 by the
// tests here.
func backupsDB(t *testing.T, n int) *pgtest.Database {
	t.Helper()
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	var values []string
	for id := 1; id <= n; id++ {
		values = append(values, fmt.Sprintf("(%d, '%d.zip')", id, id))
	}
	db.Exec(t, "INSERT INTO backups (id, dump_file_name) VALUES "+strings.Join(values, ", "))
	return db
}

// Every way of logging in reads the same records as a direct connection.
func TestTunnelAuthentication(t *testing.T) {
	srv := sshtest.New(t)
	db := backupsDB(t, 10)
	want := pgtest.Keys(pgtest.ScanAll(t, pgtest.Open(t, db.Config), catalog.Backups, catalog.ScanOptions{PageSize: 3}))

	cases := map[string]func(*tunnel.Config){
		"ed25519 key": func(c *tunnel.Config) { c.KeyFile = srv.Key },
		"encrypted key": func(c *tunnel.Config) {
			c.KeyFile, c.KeyPassphrase = srv.EncryptedKey, srv.Passphrase
		},
		"rsa key":   func(c *tunnel.Config) { c.KeyFile = srv.RSAKey },
		"ecdsa key": func(c *tunnel.Config) { c.KeyFile = srv.ECDSAKey },
		"password":  func(c *tunnel.Config) { c.Password = srv.Password },
		"agent": func(c *tunnel.Config) {
			c.AgentSocket = sshtest.StartAgent(t, srv.Passphrase, srv.EncryptedKey)
		},
		// Key first, then agent, then password: an unknown key does not stop the others.
		"unknown key then agent": func(c *tunnel.Config) {
			c.KeyFile = sshtest.NewKeyFile(t)
			c.AgentSocket = sshtest.StartAgent(t, "", srv.RSAKey)
		},
		"unknown key then password": func(c *tunnel.Config) {
			c.KeyFile, c.Password = sshtest.NewKeyFile(t), srv.Password
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := srv.Tunnel()
			set(&cfg)
			tun := openTunnel(t, cfg)
			got := pgtest.Keys(pgtest.ScanAll(t, pgtest.Open(t, through(db, tun)), catalog.Backups, catalog.ScanOptions{PageSize: 3}))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("through the tunnel:\n%q\nwant:\n%q", got, want)
			}
		})
	}
}

// A host known_hosts does not list is refused with its fingerprint and the line to add.
func TestTunnelUnknownHostKey(t *testing.T) {
	srv := sshtest.New(t)
	fp := ssh.FingerprintSHA256(srv.HostPublicKey(t))
	line := srv.KnownHostsLine(t, srv.Port)
	for name, known := range map[string]string{
		"empty file":   sshtest.WriteKnownHosts(t),
		"other hosts":  sshtest.WriteKnownHosts(t, strings.Replace(line, "127.0.0.1", "10.9.8.7", 1)),
		"missing file": t.TempDir() + "/nope/known_hosts",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := srv.Tunnel()
			cfg.KeyFile, cfg.KnownHosts = srv.Key, known
			_, err := tunnel.Open(context.Background(), cfg)
			if !errors.Is(err, tunnel.ErrHostKeyUnknown) {
				t.Fatalf("error %v, want ErrHostKeyUnknown", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fp) || !strings.Contains(msg, "add this line to it: "+line) || strings.Contains(msg, "\n") {
				t.Errorf("message lacks the fingerprint %s or the line %q, or is not one line:\n%s", fp, line, msg)
			}
			if catalog.IsConnectionError(err) {
				t.Error("an unknown host key must not be retried")
			}
		})
	}
}

// A host listed with another key is refused loudly, also when the listed key has another type.
func TestTunnelChangedHostKey(t *testing.T) {
	srv := sshtest.New(t)
	other, err := ssh.NewSignerFromKey(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	host := "[" + srv.Host + "]:" + strconv.Itoa(srv.Port)
	ecdsa := publicKeyOf(t, srv.ECDSAKey)
	for name, line := range map[string]string{
		"same type":  host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey()))),
		"other type": host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ecdsa))),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := srv.Tunnel()
			cfg.KeyFile, cfg.KnownHosts = srv.Key, sshtest.WriteKnownHosts(t, line)
			_, err := tunnel.Open(context.Background(), cfg)
			if !errors.Is(err, tunnel.ErrHostKeyChanged) {
				t.Fatalf("error %v, want ErrHostKeyChanged", err)
			}
			if !strings.Contains(err.Error(), "HOST KEY CHANGED") || strings.Contains(err.Error(), "\n") {
				t.Errorf("message: %s", err)
			}
		})
	}
}

// Refused logins give one line naming what was tried, and are not retried.
func TestTunnelAuthRefused(t *testing.T) {
	srv := sshtest.New(t)
	cases := map[string]struct {
		set  func(*tunnel.Config)
		want string
	}{
		"wrong password": {func(c *tunnel.Config) { c.Password = "not-the-password" }, "password"},
		"unknown key":    {func(c *tunnel.Config) { c.KeyFile = sshtest.NewKeyFile(t) }, "key "},
		"wrong user": {func(c *tunnel.Config) {
			c.User, c.KeyFile = "nobody", srv.Key
		}, "nobody"},
		"empty agent": {func(c *tunnel.Config) { c.AgentSocket = sshtest.StartAgent(t, "") }, "ssh-agent (0 keys)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := srv.Tunnel()
			tc.set(&cfg)
			_, err := tunnel.Open(context.Background(), cfg)
			if !errors.Is(err, tunnel.ErrSSHAuth) || catalog.IsConnectionError(err) {
				t.Fatalf("error %v, want ErrSSHAuth and not a connection error", err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") ||
				strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("message: %s", err)
			}
		})
	}
}

// Configuration mistakes are ConfigErrors naming the field, found before connecting.
func TestTunnelConfigErrors(t *testing.T) {
	srv := sshtest.New(t)
	pub := srv.Key + ".pub"
	cases := []struct {
		name, field string
		set         func(*tunnel.Config)
	}{
		{"no host", "Host", func(c *tunnel.Config) { c.Host, c.KeyFile = "", srv.Key }},
		{"no user", "User", func(c *tunnel.Config) { c.User, c.KeyFile = "", srv.Key }},
		{"no way to log in", "", func(c *tunnel.Config) {}},
		{"missing key file", "KeyFile", func(c *tunnel.Config) { c.KeyFile = srv.Key + ".missing" }},
		{"public key", "KeyFile", func(c *tunnel.Config) { c.KeyFile = pub }},
		{"encrypted without passphrase", "KeyPassphrase", func(c *tunnel.Config) { c.KeyFile = srv.EncryptedKey }},
		{"wrong passphrase", "KeyPassphrase", func(c *tunnel.Config) {
			c.KeyFile, c.KeyPassphrase = srv.EncryptedKey, "Wrong-Passphrase"
		}},
		{"public listener", "LocalAddr", func(c *tunnel.Config) {
			c.KeyFile, c.LocalAddr, c.ForwardAddr = srv.Key, "0.0.0.0:15432", "127.0.0.1:5432"
		}},
		{"unreadable known_hosts", "KnownHosts", func(c *tunnel.Config) {
			c.KeyFile, c.KnownHosts = srv.Key, t.TempDir()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Tunnel()
			tc.set(&cfg)
			_, err := tunnel.Open(context.Background(), cfg)
			var ce *tunnel.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("error %v, want a ConfigError for %q", err, tc.field)
			}
			if strings.Contains(err.Error(), "Wrong-Passphrase") || strings.Contains(err.Error(), "\n") {
				t.Errorf("message: %s", err)
			}
		})
	}
}

// An unreachable SSH server is a connection error (worth retrying), on one line.
func TestTunnelServerDown(t *testing.T) {
	srv := sshtest.New(t)
	in := srv.StartInstance(t)
	in.Kill()
	cfg := in.Tunnel()
	cfg.KeyFile = srv.Key
	_, err := tunnel.Open(context.Background(), cfg)
	if !catalog.IsConnectionError(err) || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v, want a one-line connection error", err)
	}
}

// insecure_ignore_host_key connects to an unknown host, with a warning on every connection.
func TestTunnelInsecureIgnoreHostKey(t *testing.T) {
	srv := sshtest.New(t)
	var logs testio.Buffer
	cfg := srv.Tunnel()
	cfg.KeyFile, cfg.KnownHosts, cfg.InsecureIgnoreHostKey = srv.Key, sshtest.WriteKnownHosts(t), true
	cfg.Log = zerolog.New(&logs)
	tun := openTunnel(t, cfg)
	if err := tun.Reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "WARNING: insecure_ignore_host_key"); n != 2 {
		t.Errorf("%d warnings for 2 connections:\n%s", n, logs.String())
	}
}

// local_host/local_port: a loopback listener forwarding to the database, for other tools.
func TestTunnelLocalForward(t *testing.T) {
	srv := sshtest.New(t)
	db := backupsDB(t, 2)
	cfg := srv.Tunnel()
	cfg.KeyFile = srv.Key
	cfg.LocalAddr = "127.0.0.1:0"
	cfg.ForwardAddr = hostPort(db)
	tun := openTunnel(t, cfg)

	direct := db.Config
	direct.Host, direct.Port = "127.0.0.1", tun.Addr().(*net.TCPAddr).Port
	r := pgtest.Open(t, direct)
	if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 2 {
		t.Fatalf("count through the forward: %d %v", n, err)
	}
	r.Close()

	// Taken port: a configuration error naming LocalAddr.
	cfg.LocalAddr = tun.Addr().String()
	_, err := tunnel.Open(context.Background(), cfg)
	var ce *tunnel.ConfigError
	if !errors.As(err, &ce) || ce.Field != "LocalAddr" || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second listener on the same port: %v", err)
	}
}

// pgx cancels queries by setting deadlines, which the tunnel's connections must honour.
func TestTunnelQueryCancel(t *testing.T) {
	srv := sshtest.New(t)
	db := backupsDB(t, 1)
	cfg := srv.Tunnel()
	cfg.KeyFile = srv.Key
	tun := openTunnel(t, cfg)
	cc, err := through(db, tun).ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = conn.Exec(ctx, "SELECT pg_sleep(30)")
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("query not canceled: %v after %s", err, time.Since(start))
	}
}

// A killed and restarted sshd: queries fail with a connection error, Reconnect dials a new
// SSH connection and reading goes on.
func TestTunnelSSHDRestart(t *testing.T) {
	srv := sshtest.New(t)
	db := backupsDB(t, 10)
	in := srv.StartInstance(t)
	cfg := in.Tunnel()
	cfg.KeyFile = srv.Key
	tun := openTunnel(t, cfg)
	r := pgtest.Open(t, through(db, tun))
	ctx := context.Background()

	var ids []int64
	err := r.Scan(ctx, catalog.Backups, catalog.ScanOptions{PageSize: 3}, func(p catalog.Page) error {
		for _, o := range p.Objects {
			ids = append(ids, o.RecordID)
		}
		if len(ids) == 3 {
			in.Kill()
		}
		return nil
	})
	if !catalog.IsConnectionError(err) {
		t.Fatalf("scan across the kill: %v, want a connection error", err)
	}
	if err := r.Reconnect(ctx); !catalog.IsConnectionError(err) {
		t.Fatalf("reconnect with sshd down: %v, want a connection error", err)
	}
	in.Start()
	if err := r.Reconnect(ctx); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	last := ids[len(ids)-1]
	err = r.Scan(ctx, catalog.Backups, catalog.ScanOptions{PageSize: 3, AfterID: &last}, func(p catalog.Page) error {
		for _, o := range p.Objects {
			ids = append(ids, o.RecordID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
}

// Keepalives find a server that stopped answering and the next dial replaces the connection.
func TestTunnelKeepalive(t *testing.T) {
	srv := sshtest.New(t)
	db := backupsDB(t, 1)
	in := srv.StartInstance(t)
	var logs testio.Buffer
	cfg := in.Tunnel()
	cfg.KeyFile, cfg.Keepalive, cfg.Log = srv.Key, 200*time.Millisecond, zerolog.New(&logs)
	tun := openTunnel(t, cfg)
	r := pgtest.Open(t, through(db, tun))

	// Freeze the processes serving the connection; the listener still accepts new ones.
	in.Signal(syscall.SIGSTOP)
	stopped := in.Sessions()
	defer func() {
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "keepalive unanswered") {
		// The dead connection is noticed by the next dial, which logs its cause.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := tun.DialContext(ctx, "tcp", hostPort(db))
		cancel()
		if err == nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no keepalive failure logged:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.Reconnect(context.Background()); err != nil {
		t.Fatalf("reconnect after the keepalive failure: %v", err)
	}
	if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 1 {
		t.Errorf("count: %d %v", n, err)
	}
}

func mustKey(t *testing.T) any {
	t.Helper()
	data, err := os.ReadFile(sshtest.NewKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicKeyOf(t *testing.T, privateKeyFile string) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(privateKeyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hostPort is the database server's address, as the SSH server sees it too.
func hostPort(db *pgtest.Database) string {
	return net.JoinHostPort(db.Config.Host, strconv.Itoa(db.Config.Port))
}
