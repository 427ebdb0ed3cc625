// Package statusserver serves a running copy's live status over HTTP: a self-contained web
// page (/), the same data as JSON (/api/status), the failed and missing objects of the
// checkpoint (/api/failures) and Prometheus metrics (/metrics).
//
// Under `copy --follow` the copy runs pass after pass; each pass's copy is a run of the
// monitor (run, kinds and history start over), its phase is following between passes, and
// the document carries follow (engine.FollowState: passes, the last pass's time, the next
// one's, the last rescan's, records seen, objects added in all and by the last pass, quiet
// passes, objects pending and the lag, the age of the oldest of them). The page shows it in a
// Following panel and /metrics as the s3sync_follow_* metrics and s3sync_following; without
// --follow (and before the first copy of a following run ends) all of them are absent.
//
// It reads the copy's engine.Monitor, and the checkpoint only in short read transactions
// (checkpoint.DB.Page, a page by key), which are safe beside the copy's writer in the same
// process. It bounds what clients can take from the copy: every answer's work is bounded, and
// requests beyond DefaultMaxInFlight at once (MaxFailuresInFlight for failures pages) are
// answered 503 at once. It never shows a secret: the configuration it shows is the list of
// items the caller passes.
package statusserver

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

//go:embed page.html
var page []byte

// APIVersion is the version of the /api/status document; it changes when a field changes
// meaning or goes away (new fields may appear without it).
const APIVersion = 1

// Limits of /api/failures. A cursor (after) longer than MaxCursorLen is refused: no object ID
// comes near it.
const (
	DefaultFailuresLimit = 100
	MaxFailuresLimit     = 1000
	MaxCursorLen         = 1024
)

// DefaultMaxInFlight is how many requests the server handles at once unless
// Options.MaxInFlight says otherwise, and MaxFailuresInFlight how many of them may be
// /api/failures pages; a request beyond either is answered 503 with Retry-After at once, never
// queued. The legitimate clients are few and sequential: a page polling /api/status every 2 s,
// a Prometheus scrape, `s3sync status`, and `s3sync report`, which reads failures pages one at
// a time. Eight leaves room for several of each at once. A failures page is the one answer that
// costs real work (up to MaxFailuresLimit objects decoded, ~300 KB of JSON) and one report
// needs one at a time, so at most one is built at a time: a flood can keep at most one core
// building pages, whatever its size. Measured on 2 cores, 1,160 clients asking for 1,000-object
// pages in a loop cut an in-memory copy from 6,600 objects/s to 300 with no cap, to 950 with 8
// requests at once, to 1,450–2,000 with 8 and one page at once (3,500 when every request is
// refused unread: the cost of the HTTP traffic itself).
const (
	DefaultMaxInFlight  = 8
	MaxFailuresInFlight = 1
)

// RetryAfterSeconds is the Retry-After of a 503 for a full server.
const RetryAfterSeconds = 1

// ConfigItem is one line of the configuration the page shows. Callers pass only values that
// are not secret.
type ConfigItem struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Options configures a Server.
type Options struct {
	// Monitor is the live state of the copy; required.
	Monitor *engine.Monitor
	// DB is the checkpoint /api/failures reads; nil answers /api/failures with 503.
	DB *checkpoint.DB
	// Token, when not empty, is required on every request, as the password of HTTP basic
	// authentication (any user name) or as "Authorization: Bearer <token>".
	Token string
	// Command and PID describe the process, e.g. "copy" and os.Getpid().
	Command string
	PID     int
	// Config is the run's configuration without secrets, shown as given.
	Config []ConfigItem
	// MaxInFlight is how many requests are handled at once; more are answered 503 with
	// Retry-After. 0 = DefaultMaxInFlight.
	MaxInFlight int
}

// Status is the /api/status document: the monitor's snapshot plus who runs it. Its follow
// field (Snapshot.Follow) is present only while and after copy --follow follows.
type Status struct {
	Version int    `json:"version"` // APIVersion
	Command string `json:"command"`
	PID     int    `json:"pid"`
	engine.Snapshot
	Config []ConfigItem `json:"config"`
}

// Failures is the /api/failures document: one page of failed and missing objects, in ID order.
type Failures struct {
	Objects []engine.Row `json:"objects"`
	Limit   int          `json:"limit"`
	// After is the cursor this page starts after ("" for the first page).
	After string `json:"after"`
	// NextAfter is the cursor of the next page (the ID of this page's last object), "" when
	// this page is the last: ask for ?after=NextAfter.
	NextAfter string `json:"next_after"`
}

// Server is the HTTP status server of one copy. Create it with New, make it the storage
// clients' Observer, then Start it; Close stops it.
type Server struct {
	opts     Options
	metrics  *metrics
	registry *prometheus.Registry
	handler  http.Handler
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	slots    chan struct{} // one per request in flight, MaxInFlight of them
	pages    chan struct{} // one per /api/failures page being built, MaxFailuresInFlight of them
	// serveHook, when set, is called by every admitted request before its handler, and
	// pageHook by every failures page while it holds its slot; for tests.
	serveHook func(*http.Request)
	pageHook  func()
}

// New builds the server's handlers and metrics; it does not listen yet.
func New(opts Options) *Server {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	s := &Server{opts: opts, registry: prometheus.NewRegistry(), slots: make(chan struct{}, opts.MaxInFlight),
		pages: make(chan struct{}, MaxFailuresInFlight)}
	s.metrics = newMetrics(s.registry, opts.Monitor)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /api/status", s.serveStatus)
	mux.HandleFunc("GET /api/failures", s.serveFailures)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	// A stranger is refused before taking a slot; a known client is then limited.
	s.handler = s.auth(s.limit(headers(mux)))
	return s
}

// ObserveRequest implements storage.Observer: it counts and times S3 requests for /metrics.
func (s *Server) ObserveRequest(op, outcome string, d time.Duration) {
	s.metrics.observeRequest(op, outcome, d)
}

// Handler returns the server's handler, authentication included.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (see ListenAddr) and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.Serve(ln)
	return nil
}

// Serve serves on ln in the background; Close closes it.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	// WriteTimeout frees the slot of a client that stops reading its answer.
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second,
		IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
}

// Addr is the address the server listens on (with the port the system chose for port 0), in
// a form clients can dial: an unspecified host (0.0.0.0, ::) becomes the loopback address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return dialAddr(s.ln.Addr())
}

// dialAddr is the address of a listener in a form clients can dial: an unspecified host
// (0.0.0.0, ::) becomes the loopback address.
func dialAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // Go listens dual-stack on a wildcard address
	}
	return net.JoinHostPort(host, port)
}

// Close stops the server, letting requests in progress finish for up to a second.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// ListenAddr turns a configured status address into one to listen on: a bare port ("5555")
// or one without a host (":5555") means the loopback interface. public is true when the
// address is not a loopback one, so that the caller can warn about it.
func ListenAddr(addr string) (listen string, public bool, err error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", false, errors.New("empty address")
	}
	if _, err := strconv.Atoi(addr); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("%q is not host:port or a port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", false, fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	return net.JoinHostPort(host, port), !loopback, nil
}

// auth requires the token, when there is one, on every request.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got string
		if _, pass, ok := r.BasicAuth(); ok {
			got = pass
		} else if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="s3sync", charset="UTF-8"`)
			http.Error(w, "401 unauthorized: this status server needs its token (basic auth password, or Authorization: Bearer)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limit admits MaxInFlight requests at a time and answers the others 503 at once, with
// Retry-After: queueing them would let a flood pile up work (and memory) behind the slots.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !acquire(s.slots) {
			s.busy(w, fmt.Sprintf("%d requests are in flight, the most this status server takes at once", cap(s.slots)))
			return
		}
		defer func() { <-s.slots }()
		if s.serveHook != nil {
			s.serveHook(r)
		}
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot of sem if one is free.
func acquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// busy answers 503 with Retry-After, for a request the server has no room for.
func (s *Server) busy(w http.ResponseWriter, why string) {
	s.metrics.rejected.Inc()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	httpError(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: %s; try again in %d s", why, RetryAfterSeconds))
}

// headers sets what every answer carries: nothing is cached, sniffed or framed.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Everything the page needs is inline; it talks to this server only.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "+
		"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	_, _ = w.Write(page)
}

// StatusNow is the /api/status document at this moment.
func (s *Server) StatusNow() Status {
	cfg := s.opts.Config
	if cfg == nil {
		cfg = []ConfigItem{}
	}
	return Status{Version: APIVersion, Command: s.opts.Command, PID: s.opts.PID, Snapshot: s.opts.Monitor.Snapshot(), Config: cfg}
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.StatusNow())
}

// serveFailures answers /api/failures?kind=K&status=failed|missing&limit=N&after=ID: up to
// limit failed and missing objects (both unless status says one) whose IDs follow the cursor
// after, in ID order, and the cursor of the next page. It pages by key (checkpoint.DB.Page),
// so a page costs the same wherever it starts; an offset, which would walk every object
// before the page, is refused.
func (s *Server) serveFailures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), DefaultFailuresLimit, 1, MaxFailuresLimit)
	if err != nil {
		httpError(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	if v := q.Get("offset"); v != "" && v != "0" {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("offset: %q: paging by offset is not supported; "+
			"ask for the first page without it, then for each next one with after=<next_after of the page before>", v))
		return
	}
	after := q.Get("after")
	if len(after) > MaxCursorLen {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("after: %d bytes; a cursor is the next_after of a page, at most %d bytes", len(after), MaxCursorLen))
		return
	}
	statuses := []checkpoint.Status{checkpoint.Failed, checkpoint.Missing}
	if v := q.Get("status"); v != "" {
		if statuses, err = checkpoint.ParseStatuses(v); err != nil {
			httpError(w, http.StatusBadRequest, "status: "+err.Error())
			return
		}
		for _, st := range statuses {
			if st != checkpoint.Failed && st != checkpoint.Missing {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not failed or missing", st))
				return
			}
		}
		if len(statuses) == 0 {
			statuses = []checkpoint.Status{checkpoint.Failed, checkpoint.Missing}
		}
	}
	var kinds []string
	if v := q.Get("kind"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k == "" || strings.ContainsAny(k, "/\x00") {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("kind: %q is not a kind", k))
				return
			}
			kinds = append(kinds, k)
		}
		if len(kinds) > 64 {
			httpError(w, http.StatusBadRequest, "kind: more than 64 kinds")
			return
		}
	}
	if s.opts.DB == nil {
		httpError(w, http.StatusServiceUnavailable, "no checkpoint to read")
		return
	}
	if !acquire(s.pages) {
		s.busy(w, fmt.Sprintf("%d failures page(s) are being built, the most this status server builds at once", cap(s.pages)))
		return
	}
	body, err := s.failuresPage(checkpoint.Filter{Kinds: kinds, Statuses: statuses}, after, limit)
	<-s.pages // before writing: a client that reads slowly holds no page slot
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// failuresPage reads one page and encodes its document.
func (s *Server) failuresPage(f checkpoint.Filter, after string, limit int) ([]byte, error) {
	if s.pageHook != nil {
		s.pageHook()
	}
	objs, more, err := s.opts.DB.Page(f, after, limit)
	if err != nil {
		return nil, err
	}
	out := Failures{Objects: make([]engine.Row, 0, len(objs)), Limit: limit, After: after}
	for _, o := range objs {
		out.Objects = append(out.Objects, engine.RowOf(o))
	}
	if more {
		out.NextAfter = objs[len(objs)-1].ID()
	}
	body, err := json.Marshal(out)
	return append(body, '\n'), err
}

func intParam(v string, def, min, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", v, min, max)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
