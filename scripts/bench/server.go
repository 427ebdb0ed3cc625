package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// s3server is the benchmark's own Versity S3 Gateway: its own port and root, keep-alive on
// (as every S3 provider has it), an access log from which requests are counted.
type s3server struct {
	bin, root, addr string
	access, secret  string
	cmd             *exec.Cmd
	accessLog       string
	logOffset       int64
}

func (s *s3server) endpoint() string { return "http://" + s.addr }

func (s *s3server) start() error {
	for _, d := range []string{"data", "meta"} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o755); err != nil {
			return err
		}
	}
	s.accessLog = filepath.Join(s.root, "access.log")
	logf, err := os.Create(filepath.Join(s.root, "versitygw.log"))
	if err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "--port", s.addr, "--quiet", "--keep-alive", "--access-log", s.accessLog,
		"posix", "--sidecar", filepath.Join(s.root, "meta"), filepath.Join(s.root, "data"))
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.access, "ROOT_SECRET_KEY="+s.secret)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not start on %s; see %s", s.addr, logf.Name())
}

func (s *s3server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
}

// cpu returns the server's user+system CPU seconds so far.
func (s *s3server) cpu() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// markLog remembers the end of the access log; requestsSince counts the requests after it.
func (s *s3server) markLog() {
	if fi, err := os.Stat(s.accessLog); err == nil {
		s.logOffset = fi.Size()
	}
}

// requestsSince counts the access-log lines written since markLog, by S3 operation.
func (s *s3server) requestsSince() map[string]int {
	time.Sleep(300 * time.Millisecond) // the gateway writes its log asynchronously
	out := map[string]int{}
	f, err := os.Open(s.accessLog)
	if err != nil {
		return out
	}
	defer f.Close()
	if _, err := f.Seek(s.logOffset, 0); err != nil {
		return out
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// owner bucket [time zone] ip requester request-id operation ...
		fields := strings.Fields(sc.Text())
		if len(fields) > 7 {
			out[strings.TrimPrefix(fields[7], "s3_")]++
		}
	}
	return out
}

// wipe empties a bucket by removing its files from the gateway's root: far faster than
// deleting tens of thousands of objects through the API. The bucket itself stays.
func (s *s3server) wipe(bucket string) error {
	for _, dir := range []string{filepath.Join(s.root, "data", bucket), filepath.Join(s.root, "meta", bucket)} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if dir == filepath.Join(s.root, "meta", bucket) && e.Name() == "meta" {
				continue // the bucket's own metadata (ACL, owner)
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// count returns the number of objects (files) in a bucket and their bytes.
func (s *s3server) count(bucket string) (n int, size int64) {
	_ = filepath.WalkDir(filepath.Join(s.root, "data", bucket), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return n, size
}

// latencyProxy is the WAN profile: an HTTP proxy in front of the gateway that delays every
// request by delay before forwarding it, and every new client connection by delay before its
// first byte is read (the TCP handshake's round trip). Connection reuse, pool sizes and the
// number of requests per object decide the throughput behind it, as over a real WAN.
type latencyProxy struct {
	addr  string
	delay time.Duration
	srv   *http.Server
	conns atomic.Int64 // client connections accepted
}

func (p *latencyProxy) start(backend string) error {
	target, err := url.Parse(backend)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the client signed its Host header
		},
		Transport: &http.Transport{
			MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second,
			DisableCompression: true,
		},
		FlushInterval: -1,
		ErrorLog:      nil,
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(p.delay)
			rp.ServeHTTP(w, r)
		}),
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	go func() { _ = p.srv.Serve(&slowListener{Listener: ln, p: p}) }()
	return nil
}

func (p *latencyProxy) stop() {
	if p.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
	}
}

type slowListener struct {
	net.Listener
	p *latencyProxy
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.conns.Add(1)
	return &slowConn{Conn: c, delay: l.p.delay}, nil
}

// slowConn delays its first read: the handshake round trip of a new connection.
type slowConn struct {
	net.Conn
	delay time.Duration
	first atomic.Bool
}

func (c *slowConn) Read(b []byte) (int, error) {
	if c.first.CompareAndSwap(false, true) {
		time.Sleep(c.delay)
	}
	return c.Conn.Read(b)
}
