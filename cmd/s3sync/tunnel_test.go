package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/tunnel/sshtest"
)

// useTunnel rewrites the sandbox's config with a [pg.tunnel] section of the given keys
// (enabled = true is added) and a fresh checkpoint path named after the case.
func (s *sandbox) useTunnel(name string, keys ...string) {
	s.t.Helper()
	s.checkpoint = filepath.Join(s.dir, name+".db")
	s.writeConfig()
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\n[pg.tunnel]\nenabled = true\n%s\n", strings.Join(keys, "\n"))
}

// runEnv runs s3sync in-process with the sandbox's config and the given environment.
func (s *sandbox) runEnv(env map[string]string, args ...string) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"s3sync", "--config", s.config, "--log-level", "warn"}, args...)
	code := run(context.Background(), full, envFor(env, &out, &errb))
	return result{code, out.String(), errb.String()}
}

func envFor(vars map[string]string, stdout, stderr io.Writer) env {
	return env{stdout: stdout, stderr: stderr, getenv: func(k string) string { return vars[k] }}
}

// sshKeys are the [pg.tunnel] lines reaching the test sshd with its unencrypted key.
func sshKeys(srv *sshtest.Server, port int, knownHosts string) []string {
	return []string{"ssh_host = " + srv.Host, "ssh_port = " + strconv.Itoa(port), "ssh_user = " + srv.User,
		"known_hosts = " + knownHosts}
}

// snapshot returns every object of a checkpoint as a comparable line (without timestamps)
// and its counters.
func snapshot(t *testing.T, path string) ([]string, map[string]map[checkpoint.Status]checkpoint.Count) {
	t.Helper()
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var objs []string
	err = db.Each(checkpoint.Filter{}, func(o checkpoint.Object) error {
		objs = append(objs, fmt.Sprintf("%s %q size=%d type=%s remote=%v %s attempts=%d err=%q bytes=%d src=%q",
			o.ID(), o.Candidates, o.Size, o.ContentType, o.Remote, o.Status, o.Attempts, o.Error, o.Bytes, o.SourceKey))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return objs, counts
}

func assertSameCheckpoint(t *testing.T, got, want string) {
	t.Helper()
	gotObjs, gotCounts := snapshot(t, got)
	wantObjs, wantCounts := snapshot(t, want)
	if len(wantObjs) == 0 {
		t.Fatal("the direct run planned nothing")
	}
	if !reflect.DeepEqual(gotObjs, wantObjs) {
		t.Errorf("objects through the tunnel:\n%s\nwant (direct):\n%s", strings.Join(gotObjs, "\n"), strings.Join(wantObjs, "\n"))
	}
	if !reflect.DeepEqual(gotCounts, wantCounts) {
		t.Errorf("counts through the tunnel %v, direct %v", gotCounts, wantCounts)
	}
}

// oneErrorLine checks that stderr is a single "Error: ..." line and returns it.
func oneErrorLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") {
		t.Fatalf("want one error line, got:\n%s", r)
	}
	return lines[0]
}

// `s3sync plan` through the tunnel writes exactly the checkpoint a direct connection writes;
// planning again merges with nothing new.
func TestPlanThroughTunnelSameCheckpoint(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	layoutFixture(s)
	s.must(exitOK, "plan")
	direct := s.checkpoint

	s.useTunnel("tunnel", append(sshKeys(srv, srv.Port, srv.KnownHosts), "ssh_key = "+srv.Key)...)
	r := s.must(exitOK, "plan")
	assertSameCheckpoint(t, s.checkpoint, direct)
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("warnings:\n%s", r.stderr)
	}
	r = s.must(exitOK, "plan")
	if !strings.Contains(r.stdout, "total") || !regexpNoNew(r.stdout) {
		t.Errorf("re-plan through the tunnel found new objects:\n%s", r.stdout)
	}
	assertSameCheckpoint(t, s.checkpoint, direct)
}

// regexpNoNew reports whether the plan table's total line shows 0 new objects.
func regexpNoNew(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[0] == "total" {
			return f[3] == "0" && f[4] == f[2]
		}
	}
	return false
}

// Every way of logging in, with secrets from the file or the environment.
func TestPlanThroughTunnelAuth(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO accounts (id, username, avatar_file_name, avatar_content_type) SELECT i, 'u' || i, 'a.png', 'image/png' FROM generate_series(1, 30) i`)
	s.must(exitOK, "plan")
	direct := s.checkpoint

	agentSock := sshtest.StartAgent(t, srv.Passphrase, srv.EncryptedKey)
	cases := []struct {
		name string
		keys []string
		env  map[string]string
	}{
		{"ed25519 key", []string{"ssh_key = " + srv.Key}, nil},
		{"encrypted key", []string{"ssh_key = " + srv.EncryptedKey, "ssh_key_passphrase = " + srv.Passphrase}, nil},
		{"encrypted key passphrase from env", []string{"ssh_key = " + srv.EncryptedKey}, map[string]string{envSSHKeyPassphrase: srv.Passphrase}},
		{"rsa key", []string{"ssh_key = " + srv.RSAKey}, nil},
		{"ecdsa key", []string{"ssh_key = " + srv.ECDSAKey}, nil},
		{"password", []string{"ssh_password = " + srv.Password}, nil},
		{"password from env", nil, map[string]string{envSSHPassword: srv.Password}},
		{"agent", nil, map[string]string{"SSH_AUTH_SOCK": agentSock}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.useTunnel("auth"+strconv.Itoa(i), append(sshKeys(srv, srv.Port, srv.KnownHosts), tc.keys...)...)
			if r := s.runEnv(tc.env, "plan"); r.code != exitOK {
				t.Fatalf("plan: %s", r)
			}
			assertSameCheckpoint(t, s.checkpoint, direct)
		})
	}
}

// Unknown and changed host keys are refused: exit 1, one line, with the fingerprint and the
// known_hosts line to add.
func TestPlanTunnelHostKeyRefused(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	fp := ssh.FingerprintSHA256(srv.HostPublicKey(t))
	line := srv.KnownHostsLine(t, srv.Port)

	s.useTunnel("unknown", append(sshKeys(srv, srv.Port, sshtest.WriteKnownHosts(t)), "ssh_key = "+srv.Key)...)
	msg := oneErrorLine(t, s.must(exitError, "plan"))
	if !strings.Contains(msg, "host key unknown") || !strings.Contains(msg, fp) || !strings.Contains(msg, line) {
		t.Errorf("unknown host: %s\nwant the fingerprint %s and the line %q", msg, fp, line)
	}

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Fields(line)[0] + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherKey)))
	s.useTunnel("changed", append(sshKeys(srv, srv.Port, sshtest.WriteKnownHosts(t, changed)), "ssh_key = "+srv.Key)...)
	msg = oneErrorLine(t, s.must(exitError, "plan"))
	if !strings.Contains(msg, "HOST KEY CHANGED") || !strings.Contains(msg, fp) {
		t.Errorf("changed host key: %s", msg)
	}
	if _, err := os.Stat(s.checkpoint); !os.IsNotExist(err) {
		t.Errorf("a refused connection left a checkpoint: %v", err)
	}
}

// A wrong password or an unauthorized key: exit 1 with a one-line cause, no secret in it.
func TestPlanTunnelAuthRefused(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	for name, key := range map[string]string{
		"wrong password": "ssh_password = Not-The-Password-42",
		"unknown key":    "ssh_key = " + sshtest.NewKeyFile(t),
	} {
		t.Run(name, func(t *testing.T) {
			s.useTunnel("refused", append(sshKeys(srv, srv.Port, srv.KnownHosts), key)...)
			msg := oneErrorLine(t, s.must(exitError, "plan"))
			if !strings.Contains(msg, srv.User+" was refused") || strings.Contains(msg, "Not-The-Password-42") {
				t.Errorf("message: %s", msg)
			}
		})
	}
}

// [pg.tunnel] mistakes exit 2 naming the key.
func TestPlanTunnelConfigErrors(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	cases := []struct {
		name string
		keys []string
		want string
	}{
		{"no passphrase", []string{"ssh_key = " + srv.EncryptedKey}, "[pg.tunnel] ssh_key_passphrase: " + srv.EncryptedKey + " is encrypted"},
		{"wrong passphrase", []string{"ssh_key = " + srv.EncryptedKey, "ssh_key_passphrase = Wrong-Phrase"}, "[pg.tunnel] ssh_key_passphrase: wrong passphrase"},
		{"missing key", []string{"ssh_key = no_such_key"}, "[pg.tunnel] ssh_key: no_such_key not found (looked for no_such_key and private/no_such_key)"},
		{"no way to log in", nil, "[pg.tunnel]: no way to log in"},
		{"public forward", []string{"ssh_key = " + srv.Key, "local_host = 0.0.0.0", "local_port = 15432"}, "[pg.tunnel] local_host: \"0.0.0.0\" is not a loopback address"},
		{"bad port", []string{"ssh_key = " + srv.Key, "ssh_port = ssh"}, "[pg.tunnel] ssh_port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := append(sshKeys(srv, srv.Port, srv.KnownHosts), tc.keys...)
			if tc.name == "bad port" {
				keys = append([]string{"ssh_host = " + srv.Host, "ssh_user = " + srv.User}, tc.keys...)
			}
			s.useTunnel("config", keys...)
			r := s.must(exitUsage, "plan")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Error: config ") || !strings.Contains(last, tc.want) || strings.Contains(last, "Wrong-Phrase") {
				t.Errorf("last line %q, want %q", last, tc.want)
			}
		})
	}
}

// insecure_ignore_host_key connects to a host known_hosts does not list, warning loudly.
func TestPlanTunnelInsecureIgnoreHostKey(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	s.useTunnel("insecure", append(sshKeys(srv, srv.Port, sshtest.WriteKnownHosts(t)), "ssh_key = "+srv.Key, "insecure_ignore_host_key = true")...)
	r := s.must(exitOK, "plan")
	if !strings.Contains(r.stderr, "WARNING: [pg.tunnel] insecure_ignore_host_key = true") || !strings.Contains(r.stderr, "host key is NOT verified") {
		t.Errorf("warnings:\n%s", r.stderr)
	}
}

// cutProxy forwards TCP connections to target and, once armed, cuts the connection that
// has carried more than after bytes from the server, as a network failure would.
type cutProxy struct {
	l      net.Listener
	target string
	after  int64
	armed  atomic.Bool
	cuts   atomic.Int32
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string, after int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, after: after}
	p.armed.Store(true)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(up, c)
			up.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 4096)
			var n int64
			for {
				k, err := up.Read(buf)
				if k > 0 {
					if _, werr := c.Write(buf[:k]); werr != nil {
						return
					}
					n += int64(k)
					if n > p.after && p.armed.CompareAndSwap(true, false) {
						p.cuts.Add(1)
						up.Close() // both directions die, mid-page
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// The SSH connection dropped in the middle of a plan: s3sync reconnects (logging it) and
// ends with the same checkpoint as a direct run, without duplicates.
func TestPlanTunnelDroppedMidPlan(t *testing.T) {
	srv := sshtest.New(t)
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO media_attachments (id, type, file_file_name, file_content_type, file_file_size, file_storage_schema_version)
		SELECT i, 0, 'file-with-a-long-name-' || i || '.jpg', 'image/jpeg', i, 1 FROM generate_series(1, 4000) i`)
	s.must(exitOK, "plan")
	direct := s.checkpoint

	proxy := newCutProxy(t, srv.Addr(), 150<<10)
	known := sshtest.WriteKnownHosts(t, srv.KnownHostsLine(t, proxy.port()))
	s.useTunnel("dropped", append(sshKeys(srv, proxy.port(), known), "ssh_key = "+srv.Key)...)
	r := s.must(exitOK, "plan")
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the connection was not cut (%d cuts):\n%s", proxy.cuts.Load(), r)
	}
	if !strings.Contains(r.stderr, "database connection lost; reconnecting") {
		t.Errorf("no reconnection logged:\n%s", r.stderr)
	}
	if !regexpAllNew(r.stdout) {
		t.Errorf("plan output shows known (duplicate) objects:\n%s", r.stdout)
	}
	assertSameCheckpoint(t, s.checkpoint, direct)
}

// regexpAllNew reports whether the plan table's total line shows every object new.
func regexpAllNew(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[0] == "total" {
			return f[4] == "0" && f[3] == f[2]
		}
	}
	return false
}

// ssh_key: as given (relative to the working directory), else inside private/.
func TestFindKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"private/id_ed25519", "here_key", "private/here_key"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]string{
		"private/id_ed25519": filepath.Join(dir, "private/id_ed25519"), // the old default
		"id_ed25519":         filepath.Join(dir, "private/id_ed25519"),
		"here_key":           filepath.Join(dir, "here_key"), // the working directory first
		"/abs/key":           "/abs/key",                     // tunnel.Open reports a missing one
	}
	for in, want := range cases {
		if got, err := findKeyFile(in, dir); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	_, err := findKeyFile("private/nope", dir)
	if ce, ok := err.(*configError); !ok || ce.key != "ssh_key" || strings.Contains(ce.msg, "private/private") {
		t.Errorf("missing key: %v", err)
	}
	home, _ := os.UserHomeDir()
	if got, _ := findKeyFile("~/.ssh/id_x", dir); got != filepath.Join(home, ".ssh/id_x") {
		t.Errorf("~ not expanded: %s", got)
	}
}
