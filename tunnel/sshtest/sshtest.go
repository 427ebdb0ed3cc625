// Package sshtest gives tests the OpenSSH server that scripts/test-services.sh starts in
// front of the test PostgreSQL, its keys and known_hosts file, private sshd instances that a
// test may kill and restart, and an in-process ssh-agent.
//
// `make test` starts the server and sets the S3SYNC_TEST_SSH_* variables. Without them a
// test is skipped, except under CI=true, where a missing server fails the run.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/s3sync/s3sync/internal/testio"
	"github.com/s3sync/s3sync/tunnel"
)

// Server is the shared test sshd: where it listens, who may log in, and with what.
type Server struct {
	Host string // 127.0.0.1
	Port int    // 2222 unless S3SYNC_TEST_SSH_PORT says otherwise
	User string // s3sync-ssh

	Password     string // the user's password
	Key          string // unencrypted ed25519 private key file, authorized
	EncryptedKey string // passphrase-protected ed25519 key file, authorized
	Passphrase   string // EncryptedKey's passphrase
	RSAKey       string // RSA key file, authorized
	ECDSAKey     string // ECDSA key file, authorized
	KnownHosts   string // known_hosts file listing the server's host key for Host:Port
	HostKey      string // the server's host public key file (.pub)

	sshd   string // the sshd binary
	config string // its sshd_config
}

// New returns the shared test sshd from the S3SYNC_TEST_SSH_* variables. When they are
// unset the test is skipped, or failed when CI=true.
func New(t testing.TB) *Server {
	t.Helper()
	get := func(name string) string { return os.Getenv("S3SYNC_TEST_SSH_" + name) }
	if get("HOST") == "" {
		testio.Missing(t, "S3SYNC_TEST_SSH_HOST is not set: run `make test`, which starts sshd, or source .tools/test-env.sh")
	}
	port, err := strconv.Atoi(get("PORT"))
	if err != nil {
		t.Fatalf("sshtest: S3SYNC_TEST_SSH_PORT: %v", err)
	}
	return &Server{
		Host: get("HOST"), Port: port, User: get("USER"), Password: get("PASSWORD"),
		Key: get("KEY"), EncryptedKey: get("KEY_ENCRYPTED"), Passphrase: get("KEY_PASSPHRASE"),
		RSAKey: get("KEY_RSA"), ECDSAKey: get("KEY_ECDSA"),
		KnownHosts: get("KNOWN_HOSTS"), HostKey: get("HOST_KEY"),
		sshd: os.Getenv("S3SYNC_TEST_SSHD"), config: get("CONFIG"),
	}
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Tunnel returns a tunnel.Config for the server with its known_hosts file and no way to log
// in yet: set KeyFile, Password or AgentSocket.
func (s *Server) Tunnel() tunnel.Config {
	return tunnel.Config{Host: s.Host, Port: s.Port, User: s.User, KnownHosts: s.KnownHosts}
}

// HostPublicKey returns the server's host key.
func (s *Server) HostPublicKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(s.HostKey)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatalf("sshtest: %s: %v", s.HostKey, err)
	}
	return key
}

// KnownHostsLine returns the known_hosts line for the server's host key at port, as OpenSSH
// writes it ("[127.0.0.1]:2222 ssh-ed25519 AAAA...").
func (s *Server) KnownHostsLine(t testing.TB, port int) string {
	t.Helper()
	addr := knownhosts.Normalize(net.JoinHostPort(s.Host, strconv.Itoa(port)))
	return knownhosts.Line([]string{addr}, s.HostPublicKey(t))
}

// WriteKnownHosts writes lines to a new known_hosts file in a temporary directory and
// returns its path.
func WriteKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	text := strings.Join(lines, "\n")
	if text != "" {
		text += "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Instance is a private sshd with the shared server's configuration on a port of its own,
// run in the foreground, so that a test can kill and restart it without disturbing others.
type Instance struct {
	*Server
	t       testing.TB
	Port    int    // its port
	Known   string // known_hosts file for it
	pidFile string
	mu      sync.Mutex
	cmd     *exec.Cmd
	log     *testio.Buffer
}

// StartInstance starts a private sshd on a free loopback port; it is killed when the test ends.
func (s *Server) StartInstance(t testing.TB) *Instance {
	t.Helper()
	if s.sshd == "" || s.config == "" {
		t.Fatal("sshtest: S3SYNC_TEST_SSHD or S3SYNC_TEST_SSH_CONFIG is not set; rerun scripts/test-services.sh")
	}
	l, err := net.Listen("tcp", s.Host+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	in := &Instance{Server: s, t: t, Port: port, pidFile: filepath.Join(dir, "sshd.pid")}
	in.Known = WriteKnownHosts(t, s.KnownHostsLine(t, port))
	in.Start()
	t.Cleanup(in.Kill)
	return in
}

// Tunnel returns a tunnel.Config for the instance, with its known_hosts file.
func (in *Instance) Tunnel() tunnel.Config {
	c := in.Server.Tunnel()
	c.Port, c.KnownHosts = in.Port, in.Known
	return c
}

// Start starts sshd on the instance's port and waits until it accepts connections; it fails
// the test if sshd does not start. Call it from the test's goroutine; elsewhere use TryStart.
func (in *Instance) Start() {
	in.t.Helper()
	if err := in.TryStart(); err != nil {
		in.t.Fatal(err)
	}
}

// TryStart starts sshd on the instance's port and waits until it accepts connections.
func (in *Instance) TryStart() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil {
		return errors.New("sshtest: instance already running")
	}
	// -p overrides the config's Port; -D keeps sshd in the foreground, our child.
	cmd := exec.Command(in.sshd, "-D", "-e", "-f", in.config, "-p", strconv.Itoa(in.Port), "-o", "PidFile="+in.pidFile)
	in.log = new(testio.Buffer)
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sshtest: start sshd: %v", err)
	}
	in.cmd = cmd
	addr := net.JoinHostPort(in.Host, strconv.Itoa(in.Port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshtest: sshd on %s did not start: %v\n%s", addr, err, in.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the instance's sshd and every process it started (the sessions it serves), as
// a crash would, and waits for it. It does nothing when the instance is not running.
func (in *Instance) Kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	pids := append([]int{in.cmd.Process.Pid}, descendants(in.cmd.Process.Pid)...)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	in.cmd.Wait()
	in.cmd = nil
}

// Sessions returns the pids of the processes serving the instance's connections.
func (in *Instance) Sessions() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return nil
	}
	return descendants(in.cmd.Process.Pid)
}

// Signal sends sig to the processes serving the instance's connections (not to the
// listener, which goes on accepting new ones).
func (in *Instance) Signal(sig syscall.Signal) {
	for _, pid := range in.Sessions() {
		syscall.Kill(pid, sig)
	}
}

// Log returns what sshd logged so far.
func (in *Instance) Log() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.log == nil {
		return ""
	}
	return in.log.String()
}

// descendants returns the pids of every process below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// StartAgent serves an in-process ssh-agent holding the given private key files (an
// encrypted one needs passphrase) on a Unix socket, and returns the socket's path. It
// stops when the test ends.
func StartAgent(t testing.TB, passphrase string, keyFiles ...string) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key, err := ssh.ParseRawPrivateKey(data)
		if _, ok := err.(*ssh.PassphraseMissingError); ok {
			key, err = ssh.ParseRawPrivateKeyWithPassphrase(data, []byte(passphrase))
		}
		if err != nil {
			t.Fatalf("sshtest: %s: %v", f, err)
		}
		if err := keyring.Add(agent.AddedKey{PrivateKey: key, Comment: filepath.Base(f)}); err != nil {
			t.Fatal(err)
		}
	}
	// Unix socket paths are short (108 bytes): not under t.TempDir, whose name holds the test's.
	dir, err := os.MkdirTemp("", "s3sync-agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return sock
}

// NewKeyFile writes a fresh unencrypted ed25519 private key, which no server authorizes,
// to a temporary file and returns its path.
func NewKeyFile(t testing.TB) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "unknown")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_unknown")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("sshd %s@%s", s.User, s.Addr()) }
