package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/s3sync/s3sync/internal/text"
)

// Config says how to reach the SSH server and log in to it. The addresses the tunnel
// connects to (DialContext's addr, ForwardAddr) are as the SSH server sees them: it resolves
// and dials them.
type Config struct {
	Host string // SSH server name or address (ssh_host); required
	Port int    // SSH port (ssh_port); 0 = 22
	User string // login name on the SSH server (ssh_user); required

	// Authentication is tried in this order: KeyFile, the keys of the agent at AgentSocket,
	// then Password. At least one must be set.
	KeyFile       string // private key file (ssh_key): ed25519, RSA or ECDSA, OpenSSH or PEM format; "" = none
	KeyPassphrase string // passphrase of an encrypted KeyFile (ssh_key_passphrase); never printed
	AgentSocket   string // ssh-agent socket, usually $SSH_AUTH_SOCK; "" = no agent
	Password      string // password (ssh_password); "" = none; never printed

	// KnownHosts is the OpenSSH known_hosts file the server's host key must be listed in
	// (known_hosts); "" = ~/.ssh/known_hosts. A missing file lists no host.
	KnownHosts string
	// InsecureIgnoreHostKey accepts any host key without checking it, logging a warning on
	// every connection (insecure_ignore_host_key). Anyone on the path can then pose as the server.
	InsecureIgnoreHostKey bool

	// LocalAddr, when set, is a loopback host:port the tunnel also listens on, forwarding each
	// connection to ForwardAddr, for other tools (local_host, local_port); "" = no listener.
	LocalAddr string
	// ForwardAddr is the host:port, as the SSH server sees it, that LocalAddr forwards to.
	ForwardAddr string

	// Keepalive is the interval between keepalive requests; one unanswered for as long
	// closes the connection, and the next dial makes a new one. 0 = DefaultKeepalive.
	Keepalive time.Duration
	// ConnectTimeout bounds connecting to the SSH server, handshake and login; 0 = DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// Log receives connection events and warnings; the zero Logger discards them.
	Log zerolog.Logger
}

// Defaults for the Config fields left zero.
const (
	DefaultKeepalive      = 15 * time.Second // Keepalive
	DefaultConnectTimeout = 30 * time.Second // ConnectTimeout
)

// Address returns the SSH server's host:port.
func (c Config) Address() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// GoString keeps %#v from printing the password and passphrase.
func (c Config) GoString() string {
	return fmt.Sprintf("tunnel.Config{Host:%q, Port:%d, User:%q, KeyFile:%q, KnownHosts:%q, LocalAddr:%q, ForwardAddr:%q, Insecure:%v}",
		c.Host, c.Port, c.User, c.KeyFile, c.KnownHosts, c.LocalAddr, c.ForwardAddr, c.InsecureIgnoreHostKey)
}

// ConfigError is a Config that cannot work as given: a field missing, a key file that
// cannot be read or decrypted, an unreadable known_hosts file, a LocalAddr that is not
// loopback or is taken. Fixing the configuration fixes it; retrying does not.
type ConfigError struct {
	Field string // the Config field at fault, such as "KeyFile"; "" = the configuration as a whole
	Msg   string // one line, free of secrets
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "ssh tunnel: " + e.Msg
	}
	return "ssh tunnel: " + e.Field + ": " + e.Msg
}

// Errors of SSH connections, for errors.Is. Their messages are one line and say what to do.
var (
	// ErrHostKeyUnknown: known_hosts does not list the server; the message gives the line to add.
	ErrHostKeyUnknown = errors.New("ssh host key unknown")
	// ErrHostKeyChanged: known_hosts lists the server with another key (or marks this one revoked).
	ErrHostKeyChanged = errors.New("ssh host key changed")
	// ErrSSHAuth: the server refused every configured way of logging in.
	ErrSSHAuth = errors.New("ssh authentication failed")
)

// sshError is a failed SSH connection: a one-line message, what kind of failure it is, and
// whether trying again later may succeed, which it tells through ConnectionError.
type sshError struct {
	msg       string
	kind      error // ErrHostKeyUnknown, ErrHostKeyChanged, ErrSSHAuth or nil
	transient bool
	ctxErr    error // context.Canceled or DeadlineExceeded when the caller's context ended
}

func (e *sshError) Error() string { return e.msg }

// ConnectionError reports whether trying again later may succeed: the SSH server or the
// address behind it could not be reached, or the connection dropped; a refused login or host
// key never succeeds by itself. It is a method rather than a sentinel error so that catalog,
// which sees the tunnel only as a DialFunc, can tell the two apart without importing this
// package (catalog.IsConnectionError).
func (e *sshError) ConnectionError() bool { return e.transient }

func (e *sshError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.ctxErr != nil {
		errs = append(errs, e.ctxErr)
	}
	return errs
}

// errTunnelClosed is returned by the dial methods of a closed Tunnel.
var errTunnelClosed = errors.New("ssh tunnel: closed")

// Tunnel carries connections to the database over one SSH connection, made with
// golang.org/x/crypto/ssh: no ssh process and no local port are needed. Its DialContext is
// a dial function as catalog.DBConfig.DialFunc and pgx take it. A lost SSH connection
// (server restarted, network cut, keepalive unanswered) is replaced by a new one on the next
// dial. Its methods may be called from several goroutines.
type Tunnel struct {
	cfg       Config
	addr      string // the SSH server's host:port
	log       zerolog.Logger
	signer    ssh.Signer // from KeyFile; nil = none
	keyDesc   string     // "key <file> (<type> <fingerprint>)" for messages
	hostKeys  ssh.HostKeyCallback
	knownFile string // the known_hosts path, for messages
	knownNone bool   // the known_hosts file does not exist
	keepalive time.Duration
	timeout   time.Duration

	ctx    context.Context // canceled by Close: ends dials in progress
	cancel context.CancelFunc

	dialMu   sync.Mutex // one SSH dial at a time
	mu       sync.Mutex // guards cur and closed
	cur      *sshConn
	closed   bool
	listener net.Listener
	wg       sync.WaitGroup // keepalives, the listener and its forwards
}

// sshConn is one SSH connection and its state.
type sshConn struct {
	client *ssh.Client
	done   chan struct{} // closed when the connection has ended
	mu     sync.Mutex
	cause  error // why it ended, when we ended it
}

// fail closes the connection, recording why unless a cause is already known.
func (c *sshConn) fail(cause error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.client.Close()
}

// why returns the recorded cause of the connection's end, nil when unknown.
func (c *sshConn) why() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

func (c *sshConn) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Open checks cfg, connects and logs in to the SSH server, and starts the LocalAddr
// listener when one is set. Configuration mistakes are *ConfigError; a server that cannot
// be reached, refuses the login or shows an unknown or changed host key gives a one-line
// error (see ErrHostKeyUnknown, ErrHostKeyChanged, ErrSSHAuth) whose method
// ConnectionError() bool says whether trying again later may succeed. Close the Tunnel
// when done.
func Open(ctx context.Context, cfg Config) (*Tunnel, error) {
	t := &Tunnel{cfg: cfg, addr: cfg.Address(), log: cfg.Log, keepalive: cfg.Keepalive, timeout: cfg.ConnectTimeout}
	if t.keepalive <= 0 {
		t.keepalive = DefaultKeepalive
	}
	if t.timeout <= 0 {
		t.timeout = DefaultConnectTimeout
	}
	if err := t.setup(); err != nil {
		return nil, err
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if cfg.LocalAddr != "" {
		l, err := net.Listen("tcp", cfg.LocalAddr)
		if err != nil {
			t.cancel()
			return nil, &ConfigError{"LocalAddr", fmt.Sprintf("cannot listen on %s: %s; pick a free port, or leave it empty (s3sync itself needs no local port)",
				cfg.LocalAddr, unwrapOpError(err))}
		}
		t.listener = l
	}
	if _, err := t.conn(ctx); err != nil {
		t.Close()
		return nil, err
	}
	if t.listener != nil {
		t.log.Info().Str("listen", t.listener.Addr().String()).Str("to", cfg.ForwardAddr).
			Msg("ssh tunnel: forwarding a local port for other tools")
		t.wg.Add(1)
		go t.serve(t.listener)
	}
	return t, nil
}

// setup validates the configuration and loads the key and the known hosts.
func (t *Tunnel) setup() error {
	c := t.cfg
	if c.Host == "" {
		return &ConfigError{"Host", "is missing"}
	}
	if c.Port < 0 || c.Port > 65535 {
		return &ConfigError{"Port", fmt.Sprintf("%d is not a port number", c.Port)}
	}
	if c.User == "" {
		return &ConfigError{"User", "is missing"}
	}
	if c.LocalAddr != "" {
		host, _, err := net.SplitHostPort(c.LocalAddr)
		if err != nil {
			return &ConfigError{"LocalAddr", fmt.Sprintf("%q is not host:port", c.LocalAddr)}
		}
		if !IsLoopback(host) {
			return &ConfigError{"LocalAddr", fmt.Sprintf("%s is not a loopback address: the forward would open the database to the network; use 127.0.0.1", host)}
		}
		if c.ForwardAddr == "" {
			return &ConfigError{"ForwardAddr", "is missing: LocalAddr needs a destination"}
		}
	}
	if c.KeyFile == "" && c.AgentSocket == "" && c.Password == "" {
		return &ConfigError{"", "no way to log in: set a key file or a password, or run an ssh-agent (SSH_AUTH_SOCK)"}
	}
	if c.KeyFile != "" {
		if err := t.loadKey(); err != nil {
			return err
		}
	}
	if !c.InsecureIgnoreHostKey {
		if err := t.loadKnownHosts(); err != nil {
			return err
		}
	}
	return nil
}

// IsLoopback reports whether host is "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (t *Tunnel) loadKey() error {
	path := t.cfg.KeyFile
	data, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{"KeyFile", fmt.Sprintf("cannot read %s: %s", path, unwrapPathError(err))}
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if t.cfg.KeyPassphrase == "" {
			return &ConfigError{"KeyPassphrase", fmt.Sprintf("%s is encrypted and no passphrase is set", path)}
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, []byte(t.cfg.KeyPassphrase))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return &ConfigError{"KeyPassphrase", fmt.Sprintf("wrong passphrase for %s", path)}
		}
	}
	if err != nil {
		msg := text.OneLine(text.Redact(err.Error(), t.cfg.KeyPassphrase))
		if strings.HasSuffix(path, ".pub") {
			msg += " (this is the public key; name the private one)"
		}
		return &ConfigError{"KeyFile", fmt.Sprintf("%s is not a usable private key: %s", path, msg)}
	}
	t.signer = signer
	t.keyDesc = fmt.Sprintf("key %s (%s %s)", path, signer.PublicKey().Type(), ssh.FingerprintSHA256(signer.PublicKey()))
	return nil
}

func (t *Tunnel) loadKnownHosts() error {
	path := t.cfg.KnownHosts
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return &ConfigError{"KnownHosts", "is not set and there is no home directory for ~/.ssh/known_hosts"}
		}
		path = filepath.Join(home, ".ssh", "known_hosts")
	}
	t.knownFile = path
	var files []string
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	} else if errors.Is(err, os.ErrNotExist) {
		t.knownNone = true
	} else {
		return &ConfigError{"KnownHosts", fmt.Sprintf("cannot read %s: %s", path, unwrapPathError(err))}
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return &ConfigError{"KnownHosts", text.OneLine(err.Error())}
	}
	t.hostKeys = cb
	return nil
}

// DialContext opens a connection to addr ("host:port", resolved by the SSH server) through
// the tunnel, first replacing a lost SSH connection. Its signature is that of
// catalog.DBConfig.DialFunc and pgx's DialFunc.
// The connection supports deadlines, which pgx needs to cancel queries.
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ch, err := t.open(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return withDeadlines(ch), nil
}

// Addr returns the address of the LocalAddr listener, nil when there is none.
func (t *Tunnel) Addr() net.Addr {
	if t.listener == nil {
		return nil
	}
	return t.listener.Addr()
}

// Reconnect closes the current SSH connection and makes a new one.
func (t *Tunnel) Reconnect(ctx context.Context) error {
	t.mu.Lock()
	cur := t.cur
	t.mu.Unlock()
	if cur != nil {
		cur.fail(errors.New("reconnect requested"))
		<-cur.done
	}
	_, err := t.conn(ctx)
	return err
}

// Close stops the listener, closes the SSH connection with everything it carries, and
// waits for the tunnel's goroutines. It is safe to call more than once.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	cur := t.cur
	t.mu.Unlock()
	t.cancel()
	if t.listener != nil {
		t.listener.Close()
	}
	if cur != nil {
		cur.fail(errTunnelClosed)
	}
	t.wg.Wait()
	return nil
}

// open opens a channel to addr over the current SSH connection, replacing the connection
// once when it turns out to be broken.
func (t *Tunnel) open(ctx context.Context, network, addr string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		sc, err := t.conn(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := sc.client.DialContext(ctx, network, addr)
		if err == nil {
			return ch, nil
		}
		if ctx.Err() != nil {
			return nil, &sshError{msg: fmt.Sprintf("ssh tunnel %s: open %s: %v", t.addr, addr, ctx.Err()), ctxErr: ctx.Err()}
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			if oce.Reason == ssh.Prohibited {
				return nil, &sshError{msg: fmt.Sprintf("ssh tunnel %s: the server does not allow forwarding to %s (%s); it needs AllowTcpForwarding yes for %s",
					t.addr, addr, text.OneLine(oce.Message), t.cfg.User)}
			}
			// Usually nothing listens at addr (yet): PostgreSQL down or restarting.
			return nil, &sshError{msg: fmt.Sprintf("ssh tunnel %s: cannot reach %s from the SSH server: %s", t.addr, addr, text.OneLine(oce.Message)), transient: true}
		}
		sc.fail(err)
		if attempt > 0 {
			return nil, &sshError{msg: fmt.Sprintf("ssh tunnel %s: open %s: %s", t.addr, addr, text.OneLine(err.Error())), transient: true}
		}
	}
}

// conn returns the live SSH connection, dialing a new one when there is none or it was lost.
func (t *Tunnel) conn(ctx context.Context) (*sshConn, error) {
	t.dialMu.Lock()
	defer t.dialMu.Unlock()
	t.mu.Lock()
	cur, closed := t.cur, t.closed
	t.mu.Unlock()
	if closed {
		return nil, errTunnelClosed
	}
	if cur != nil && !cur.dead() {
		return cur, nil
	}
	if cur != nil {
		ev := t.log.Warn().Str("ssh", t.addr)
		if cause := cur.why(); cause != nil {
			ev = ev.Str("cause", text.OneLine(cause.Error()))
		}
		ev.Msg("ssh tunnel: connection lost; reconnecting")
	}

	// Close cancels a dial in progress.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	sc, err := t.dial(ctx)
	if err != nil {
		if t.ctx.Err() != nil {
			return nil, errTunnelClosed
		}
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		sc.fail(errTunnelClosed)
		return nil, errTunnelClosed
	}
	t.cur = sc
	t.wg.Add(1)
	t.mu.Unlock()
	go t.keepAlive(sc)
	ev := t.log.Debug()
	if cur != nil {
		ev = t.log.Info()
	}
	ev.Str("ssh", t.cfg.User+"@"+t.addr).Msg("ssh tunnel: connected")
	return sc, nil
}

// dial connects to the SSH server, checks its host key and logs in.
func (t *Tunnel) dial(parent context.Context) (*sshConn, error) {
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	defer cancel()
	fail := func(transient bool, format string, a ...any) error {
		msg := fmt.Sprintf("ssh tunnel %s: ", t.addr) + fmt.Sprintf(format, a...)
		msg = text.OneLine(text.Redact(msg, t.cfg.Password, t.cfg.KeyPassphrase))
		e := &sshError{msg: msg, transient: transient}
		if err := parent.Err(); err != nil { // the caller gave up: not the server's fault
			e.ctxErr, e.transient = err, false
		}
		return e
	}

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, fail(true, "cannot connect: %s", unwrapOpError(err))
	}
	// Abort the handshake when ctx ends: x/crypto/ssh takes no context.
	abort := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })

	var ag agent.ExtendedAgent
	if t.cfg.AgentSocket != "" {
		if ac, err := (&net.Dialer{}).DialContext(ctx, "unix", t.cfg.AgentSocket); err != nil {
			t.log.Warn().Str("socket", t.cfg.AgentSocket).Err(err).Msg("ssh tunnel: ssh-agent not reachable; not using it")
		} else {
			defer ac.Close()
			ag = agent.NewClient(ac)
		}
	}
	var (
		hostErr   error
		agentKeys = -1 // keys the agent offered; -1 = not asked
	)
	cc := &ssh.ClientConfig{
		User:              t.cfg.User,
		HostKeyAlgorithms: t.knownAlgorithms(nc.RemoteAddr()),
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			hostErr = t.checkHostKey(host, remote, key)
			return hostErr
		},
		ClientVersion: "SSH-2.0-s3sync",
	}
	if t.signer != nil || ag != nil {
		cc.Auth = append(cc.Auth, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			var signers []ssh.Signer
			if t.signer != nil {
				signers = append(signers, t.signer)
			}
			if ag != nil {
				s, err := ag.Signers()
				if err != nil {
					t.log.Warn().Err(err).Msg("ssh tunnel: ssh-agent gave no keys")
				}
				agentKeys = len(s)
				signers = append(signers, s...)
			}
			return signers, nil
		}))
	}
	if t.cfg.Password != "" {
		pw := t.cfg.Password
		cc.Auth = append(cc.Auth, ssh.Password(pw),
			// Servers that ask for the password through PAM's keyboard-interactive method.
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if echos[i] {
						return nil, errors.New("unexpected question")
					}
					answers[i] = pw
				}
				return answers, nil
			}))
	}

	c, chans, reqs, err := ssh.NewClientConn(nc, t.addr, cc)
	aborted := !abort()
	if err == nil && aborted {
		c.Close()
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		switch {
		case hostErr != nil:
			return nil, hostErr
		case aborted && parent.Err() != nil:
			return nil, fail(false, "%v", parent.Err())
		case aborted:
			return nil, fail(true, "no answer to the SSH handshake within %s", t.timeout)
		case strings.Contains(err.Error(), "unable to authenticate"):
			var tried []string
			if t.signer != nil {
				tried = append(tried, t.keyDesc)
			}
			switch {
			case t.cfg.AgentSocket != "" && ag == nil:
				tried = append(tried, "ssh-agent (not reachable)")
			case agentKeys >= 0:
				tried = append(tried, fmt.Sprintf("ssh-agent (%d keys)", agentKeys))
			}
			if t.cfg.Password != "" {
				tried = append(tried, "password")
			}
			e := fail(false, "%s was refused: the server accepted none of: %s", t.cfg.User, strings.Join(tried, ", ")).(*sshError)
			e.kind = ErrSSHAuth
			return nil, e
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, t.hostKeyTypeMismatch(err)
		}
		return nil, fail(true, "handshake: %s", strings.TrimPrefix(err.Error(), "ssh: handshake failed: "))
	}
	nc.SetDeadline(time.Time{})
	sc := &sshConn{client: ssh.NewClient(c, chans, reqs), done: make(chan struct{})}
	go func() {
		sc.client.Wait()
		close(sc.done)
	}()
	return sc, nil
}

// knownAlgorithms returns the host key algorithms of the keys known_hosts has for the
// server, so that the server shows a key of a type we can compare (it may have several);
// nil when none is known, leaving the choice to the defaults.
func (t *Tunnel) knownAlgorithms(remote net.Addr) []string {
	if t.hostKeys == nil {
		return nil
	}
	// A key no file lists: the error names every key listed for the host.
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	var ke *knownhosts.KeyError
	if err := t.hostKeys(t.addr, remote, probe); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		var as []string
		if k.Key.Type() == ssh.KeyAlgoRSA {
			as = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		} else {
			as = []string{k.Key.Type()}
		}
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// checkHostKey verifies the server's key against known_hosts, or logs a warning when
// verification is switched off.
func (t *Tunnel) checkHostKey(host string, remote net.Addr, key ssh.PublicKey) error {
	fp := key.Type() + " " + ssh.FingerprintSHA256(key)
	if t.cfg.InsecureIgnoreHostKey {
		t.log.Warn().Str("ssh", t.addr).Str("host_key", fp).
			Msg("WARNING: insecure_ignore_host_key is set: the SSH server's host key is NOT verified; anyone on the network path can pose as the server and read the database password and data")
		return nil
	}
	err := t.hostKeys(host, remote, key)
	if err == nil {
		return nil
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		where := t.knownFile
		if t.knownNone {
			where += " (which does not exist yet)"
		}
		return &sshError{kind: ErrHostKeyUnknown, msg: fmt.Sprintf(
			"ssh tunnel %s: host key unknown: the server shows %s, and %s does not list %s. If that is the SSH server's key (compare with ssh-keygen -lf on the server's /etc/ssh/ssh_host_*_key.pub), add this line to it: %s",
			t.addr, fp, where, knownhosts.Normalize(host), line)}
	case errors.As(err, &ke):
		var had []string
		for _, k := range ke.Want {
			had = append(had, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		}
		return &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf(
			"ssh tunnel %s: HOST KEY CHANGED: the server shows %s but known_hosts has %s. Someone may be intercepting the connection, or the server was reinstalled; not connecting. If the change is expected, replace that line with: %s",
			t.addr, fp, strings.Join(had, ", "), line)}
	case errors.As(err, &re):
		return &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf(
			"ssh tunnel %s: the server's host key %s is marked @revoked in %s:%d; not connecting", t.addr, fp, re.Revoked.Filename, re.Revoked.Line)}
	}
	return &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf("ssh tunnel %s: host key check: %s", t.addr, text.OneLine(err.Error()))}
}

// hostKeyTypeMismatch explains a server that shows none of the key types known_hosts lists for it.
func (t *Tunnel) hostKeyTypeMismatch(err error) error {
	return &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf(
		"ssh tunnel %s: HOST KEY CHANGED: the server shows no key of the types %s lists for %s (%s); not connecting. If the server's keys changed on purpose, remove its old lines from %s and connect again to see the line to add",
		t.addr, t.knownFile, knownhosts.Normalize(t.addr), text.OneLine(strings.TrimPrefix(err.Error(), "ssh: handshake failed: ")), t.knownFile)}
}

// keepAlive sends a keepalive request every interval and closes the connection when one
// fails or goes unanswered for an interval.
func (t *Tunnel) keepAlive(sc *sshConn) {
	defer t.wg.Done()
	tick := time.NewTicker(t.keepalive)
	defer tick.Stop()
	for {
		select {
		case <-sc.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			// OpenSSH answers with a failure, which is fine: any answer proves the connection.
			_, _, err := sc.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(t.keepalive)
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				sc.fail(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-timer.C:
			sc.fail(fmt.Errorf("keepalive unanswered for %s", t.keepalive))
			return
		case <-sc.done:
			timer.Stop()
			return
		}
	}
}

// serve accepts connections on the LocalAddr listener and forwards each to ForwardAddr.
func (t *Tunnel) serve(l net.Listener) {
	defer t.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.forward(c)
		}()
	}
}

func (t *Tunnel) forward(local net.Conn) {
	defer local.Close()
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	remote, err := t.open(ctx, "tcp", t.cfg.ForwardAddr)
	cancel()
	if err != nil {
		t.log.Warn().Str("from", local.RemoteAddr().String()).Err(err).Msg("ssh tunnel: cannot forward a local connection")
		return
	}
	defer remote.Close()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(remote, local)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(local, remote)
		done <- struct{}{}
	}()
	<-done
	local.Close()
	remote.Close()
	<-done
}

// withDeadlines puts a channel behind a net.Pipe: x/crypto/ssh channels do not support
// deadlines, and pgx interrupts reads with them when a context ends.
func withDeadlines(ch net.Conn) net.Conn {
	inner, outer := net.Pipe()
	go func() {
		io.Copy(outer, ch)
		outer.Close()
	}()
	go func() {
		io.Copy(ch, outer)
		ch.Close()
	}()
	return &tunnelConn{Conn: inner, local: ch.LocalAddr(), remote: ch.RemoteAddr()}
}

// tunnelConn is one end of a pipe, reporting the channel's addresses.
type tunnelConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *tunnelConn) LocalAddr() net.Addr  { return c.local }
func (c *tunnelConn) RemoteAddr() net.Addr { return c.remote }

// unwrapOpError shortens "dial tcp 127.0.0.1:22: connect: connection refused" to its cause
// when the address is already in the message.
func unwrapOpError(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return text.OneLine(op.Err.Error())
	}
	return text.OneLine(err.Error())
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
