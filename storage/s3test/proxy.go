package s3test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault says what FaultProxy does with one request. The zero Fault passes it through unchanged.
// Delay applies first; then Reset, Status, CutBody or FlipByte, whichever is set (in that
// order). A forwarded answer (no Reset or Status) may also be changed by Short, Trickle and ETag,
// Chunked and ETag, which combine with each other and with CutBody or FlipByte.
type Fault struct {
	Delay    time.Duration // wait this long before handling the request (ends early if the client goes away)
	Reset    bool          // close the connection with a TCP reset instead of answering
	Status   int           // answer with this HTTP status and an S3 XML error instead of forwarding
	Code     string        // the S3 error code for Status, e.g. "SlowDown"; "" answers Status with an empty body (a fake success)
	Message  string        // the S3 error message for Status; "" means a generic one
	CutBody  bool          // forward, but break the connection after CutAfter bytes of response body
	CutAfter int64
	FlipByte bool // forward, but invert byte FlipAt of the response body (length unchanged)
	FlipAt   int64

	// Location is sent as the Location header of a Status answer: with a 3xx Status, a redirect.
	Location string
	// Body, when set, is the body of a Status answer instead of an S3 XML error, sent as is
	// with ContentType (e.g. broken XML, or an HTML page).
	Body        string
	ContentType string

	// Short forwards, but keeps only the first ShortLen bytes of a 200 answer's body and
	// announces exactly that many in Content-Length: a short body whose length is
	// consistent, which no transport can tell from a whole one. ShortLen 0 is an empty 200.
	Short    bool
	ShortLen int64
	// Trickle forwards, but sends the response body TrickleBytes at a time (at least 1), each
	// after a pause of Trickle: a server that answers, slowly, forever.
	Trickle      time.Duration
	TrickleBytes int
	// ETag, when set, replaces the ETag header of a forwarded answer (e.g. a multipart ETag
	// such as "0123…-2", which is not the body's MD5).
	ETag string
	// Chunked forwards, but drops the answer's Content-Length, so its body arrives chunked
	// with no announced length.
	Chunked bool
}

// Pass returns the Fault that forwards a request unchanged.
func Pass() Fault { return Fault{} }

// Status returns a Fault answering with HTTP status and S3 error code, e.g. Status(503, "SlowDown").
func Status(status int, code string) Fault { return Fault{Status: status, Code: code} }

// Reset returns a Fault that closes the connection with a TCP reset.
func Reset() Fault { return Fault{Reset: true} }

// CutBody returns a Fault that forwards the request and breaks the connection after n bytes of
// the response body.
func CutBody(n int64) Fault { return Fault{CutBody: true, CutAfter: n} }

// Flip returns a Fault that forwards the request and inverts byte n of the response body, as
// a faulty network or disk would: same length, wrong content.
func Flip(n int64) Fault { return Fault{FlipByte: true, FlipAt: n} }

// Delay returns a Fault that waits d, then forwards the request.
func Delay(d time.Duration) Fault { return Fault{Delay: d} }

// Redirect returns a Fault answering with a redirect (status 301, 302, 307 or 308) to location.
func Redirect(status int, location string) Fault {
	return Fault{Status: status, Location: location, Body: " ", ContentType: "text/plain"}
}

// Raw returns a Fault answering with status and body as is, e.g. an error whose XML is broken.
func Raw(status int, contentType, body string) Fault {
	return Fault{Status: status, Body: body, ContentType: contentType}
}

// Trickle returns a Fault that forwards the request and sends the response body n bytes at a
// time, waiting every before each.
func Trickle(every time.Duration, n int) Fault { return Fault{Trickle: every, TrickleBytes: n} }

// Chunked returns a Fault that forwards the request and sends the answer without
// Content-Length (chunked).
func Chunked() Fault { return Fault{Chunked: true} }

// WithETag returns a Fault that forwards the request and replaces the answer's ETag with etag
// (given with or without quotes).
func WithETag(etag string) Fault { return Fault{ETag: etag} }

// Request is what FaultProxy recorded of one request.
type Request struct {
	Method   string
	Path     string // unescaped
	RawQuery string
	Header   http.Header
}

// FaultProxy is a reverse proxy in front of a real S3 server that injects faults chosen by a
// rule. It keeps the Host header the client sent, so SigV4 signatures made for the proxy's
// address still verify at the server. Safe for concurrent use.
type FaultProxy struct {
	URL string // the proxy's base URL; use it as storage.Config.Endpoint

	srv       *httptest.Server
	proxy     *httputil.ReverseProxy
	transport *http.Transport

	mu       sync.Mutex
	rule     func(*http.Request) Fault
	requests []Request
}

// NewFaultProxy starts a proxy in front of target (a base URL such as http://127.0.0.1:7070) that
// passes everything through until SetRule says otherwise. It closes when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		t.Fatalf("s3test: fault proxy target %q: not a URL", target)
	}
	p := &FaultProxy{transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// The client signed the proxy's host; keep it so the server verifies the signature.
			r.Out.Host = r.In.Host
		},
		Transport:     p.transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				t.Logf("s3test: fault proxy: %s %s: %v", r.Method, r.URL.Path, err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy. It is called automatically when the test ends.
func (p *FaultProxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.transport.CloseIdleConnections()
}

// SetRule makes rule decide the fault for every following request; nil passes everything
// through. rule must not read the request body.
func (p *FaultProxy) SetRule(rule func(r *http.Request) Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// Count returns how many requests with method ("GET", "PUT", ...) the proxy received; "" counts
// all of them.
func (p *FaultProxy) Count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if method == "" || r.Method == method {
			n++
		}
	}
	return n
}

// Requests returns the requests received so far, oldest first.
func (p *FaultProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// ResetLog forgets the requests received so far.
func (p *FaultProxy) ResetLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
	rule := p.rule
	p.mu.Unlock()

	var f Fault
	if rule != nil {
		f = rule(r)
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if f.Short || f.Trickle > 0 || f.ETag != "" || f.Chunked {
		w = &alterWriter{ResponseWriter: w, f: f, ctx: r.Context()}
	}
	switch {
	case f.Reset:
		resetConn(w)
	case f.Status != 0 && f.Body != "":
		_, _ = io.Copy(io.Discard, r.Body)
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		if f.ContentType != "" {
			w.Header().Set("Content-Type", f.ContentType)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(f.Body)))
		w.WriteHeader(f.Status)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, f.Body)
		}
	case f.Status != 0 && f.Code == "":
		_, _ = io.Copy(io.Discard, r.Body)
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(f.Status)
	case f.Status != 0:
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		writeS3Error(w, r, f)
	case f.CutBody:
		p.proxy.ServeHTTP(&cutWriter{ResponseWriter: w, left: f.CutAfter}, r)
	case f.FlipByte:
		p.proxy.ServeHTTP(&flipWriter{ResponseWriter: w, at: f.FlipAt}, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// alterWriter applies a Fault's Short, Trickle, ETag and Chunked to a forwarded answer.
type alterWriter struct {
	http.ResponseWriter
	f      Fault
	ctx    context.Context // the request's: a trickle stops when the client goes away
	status int
	sent   int64 // body bytes passed on
}

func (a *alterWriter) WriteHeader(status int) {
	if a.status != 0 {
		return
	}
	a.status = status
	h := a.ResponseWriter.Header()
	if a.f.ETag != "" {
		h.Set("ETag", `"`+strings.Trim(a.f.ETag, `"`)+`"`)
	}
	if a.f.Chunked {
		h.Del("Content-Length")
	}
	if a.f.Short && status == http.StatusOK && !a.f.Chunked {
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err != nil || n > a.f.ShortLen {
			h.Set("Content-Length", strconv.FormatInt(a.f.ShortLen, 10))
		}
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *alterWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	n := len(b)
	if a.f.Short && a.status == http.StatusOK {
		// Swallow what is past the announced length, so the upstream copy goes on undisturbed.
		b = b[:max(0, min(int64(len(b)), a.f.ShortLen-a.sent))]
	}
	if a.f.Trickle <= 0 {
		m, err := a.ResponseWriter.Write(b)
		a.sent += int64(m)
		if err != nil {
			return m, err
		}
		return n, nil
	}
	step := max(a.f.TrickleBytes, 1)
	for len(b) > 0 {
		select {
		case <-time.After(a.f.Trickle):
		case <-a.ctx.Done():
			return 0, a.ctx.Err()
		}
		chunk := b[:min(step, len(b))]
		m, err := a.ResponseWriter.Write(chunk)
		a.sent += int64(m)
		if err != nil {
			return 0, err
		}
		_ = http.NewResponseController(a.ResponseWriter).Flush()
		b = b[len(chunk):]
	}
	return n, nil
}

func (a *alterWriter) Flush() { _ = http.NewResponseController(a.ResponseWriter).Flush() }

func (a *alterWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// resetConn hijacks the connection and closes it with SO_LINGER 0, so the client sees
// "connection reset by peer".
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeS3Error(w http.ResponseWriter, r *http.Request, f Fault) {
	// Read the request body first, so the client gets the answer rather than a broken pipe.
	_, _ = io.Copy(io.Discard, r.Body)
	msg := f.Message
	if msg == "" {
		msg = "injected by s3test.FaultProxy"
	}
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>s3test-fault</RequestId></Error>`,
		html.EscapeString(f.Code), html.EscapeString(msg), html.EscapeString(r.URL.Path))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Header().Set("X-Amz-Request-Id", "s3test-fault")
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// cutWriter passes on the first left bytes of a response body, then sends what it has and drops
// the connection, so the client sees an unexpected EOF in the middle of the body.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	_, _ = c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	_ = http.NewResponseController(c.ResponseWriter).Flush()
	// Aborting the handler makes the server close the connection without finishing the body.
	panic(http.ErrAbortHandler)
}

func (c *cutWriter) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }

// flipWriter inverts the byte at offset at of the response body.
type flipWriter struct {
	http.ResponseWriter
	at, off int64
}

func (f *flipWriter) Write(b []byte) (int, error) {
	if i := f.at - f.off; i >= 0 && i < int64(len(b)) {
		b = append([]byte(nil), b...)
		b[i] ^= 0xff
	}
	f.off += int64(len(b))
	return f.ResponseWriter.Write(b)
}

func (f *flipWriter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }

func (f *flipWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
