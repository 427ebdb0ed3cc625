// Package statusserver serves a running copy's live status over HTTP: a self-contained web
// page (/), the same data as JSON (/api/status), the failed and missing objects of the
// checkpoint (/api/failures) and Prometheus metrics (/metrics).
//
// It reads the copy's engine.Monitor, and the checkpoint only in short read transactions
// (checkpoint.DB.Each), which are safe beside the copy's writer in the same process. It never
// shows a secret: the configuration it shows is the list of items the caller passes.
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

// Limits of /api/failures.
const (
	DefaultFailuresLimit = 100
	MaxFailuresLimit     = 1000
)

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
}

// Status is the /api/status document: the monitor's snapshot plus who runs it.
type Status struct {
	Version int    `json:"version"` // APIVersion
	Command string `json:"command"`
	PID     int    `json:"pid"`
	engine.Snapshot
	Config []ConfigItem `json:"config"`
}

// Failures is the /api/failures document: one page of failed and missing objects.
type Failures struct {
	Objects []engine.Row `json:"objects"`
	Offset  int          `json:"offset"`
	Limit   int          `json:"limit"`
	// NextOffset is the offset of the next page, -1 when this page is the last.
	NextOffset int `json:"next_offset"`
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
}

// New builds the server's handlers and metrics; it does not listen yet.
func New(opts Options) *Server {
	s := &Server{opts: opts, registry: prometheus.NewRegistry()}
	s.metrics = newMetrics(s.registry, opts.Monitor)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /api/status", s.serveStatus)
	mux.HandleFunc("GET /api/failures", s.serveFailures)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	s.handler = s.auth(headers(mux))
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
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
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

// serveFailures answers /api/failures?kind=K&status=failed|missing&limit=N&offset=N: failed
// and missing objects (both unless status says one), in checkpoint order (by status, then ID).
func (s *Server) serveFailures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), DefaultFailuresLimit, 1, MaxFailuresLimit)
	if err != nil {
		httpError(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<40)
	if err != nil {
		httpError(w, http.StatusBadRequest, "offset: "+err.Error())
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
	}
	if s.opts.DB == nil {
		httpError(w, http.StatusServiceUnavailable, "no checkpoint to read")
		return
	}
	out := Failures{Objects: []engine.Row{}, Offset: offset, Limit: limit, NextOffset: -1}
	errFull := errors.New("page full")
	i := 0
	err = s.opts.DB.Each(checkpoint.Filter{Kinds: kinds, Statuses: statuses}, func(o checkpoint.Object) error {
		defer func() { i++ }()
		switch {
		case i < offset:
			return nil
		case len(out.Objects) == limit:
			out.NextOffset = i
			return errFull
		}
		out.Objects = append(out.Objects, engine.RowOf(o))
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
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
