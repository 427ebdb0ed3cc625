package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/ini.v1"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
)

// statusAddr reads [sync] status_addr: empty, or an address statusserver.ListenAddr accepts.
func (p *parser) statusAddr(s *ini.Section) string {
	v := p.str(s, "status_addr")
	if v == "" {
		return ""
	}
	if _, _, err := statusserver.ListenAddr(v); err != nil {
		p.fail(s.Name(), "status_addr", "%v (want host:port such as 127.0.0.1:5555, or a port)", err)
	}
	return v
}

// statusRun is what the status page shows of a copy run's settings.
type statusRun struct {
	command     string
	concurrency int
	kinds       []string
	limit       int64
	checkpoint  string
}

// startStatusServer starts the copy's status server on addr (the flag, else [sync]
// status_addr); it returns nil when there is none. A non-loopback address is served, with a
// warning. The server is the storage clients' Observer for the request metrics.
func (g *globals) startStatusServer(addr string, cfg *Config, mon *engine.Monitor, db *checkpoint.DB, run statusRun) (*statusserver.Server, error) {
	if addr == "" {
		addr = cfg.StatusAddr
	}
	if addr == "" {
		return nil, nil
	}
	listen, public, err := statusserver.ListenAddr(addr)
	if err != nil {
		return nil, usageErrorf("--status-addr 127.0.0.1:5555", "--status-addr: %v", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usageErrorf("--status-addr 127.0.0.1:0 (any free port), or stop what listens there",
			"--status-addr %s: cannot listen: %v", listen, err)
	}
	srv := statusserver.New(statusserver.Options{
		Monitor: mon,
		DB:      db,
		Token:   cfg.StatusToken,
		Command: run.command,
		PID:     os.Getpid(),
		Config:  statusConfig(cfg, run, ln.Addr().String()),
	})
	srv.Serve(ln)
	if public {
		ev := g.log.Warn().Str("addr", listen)
		if cfg.StatusToken == "" {
			ev = ev.Str("hint", "set [sync] status_token or S3SYNC_STATUS_TOKEN")
		}
		ev.Msg("the status server listens beyond this machine; anyone who reaches it sees the migration's keys and errors")
	}
	g.log.Info().Str("url", "http://"+srv.Addr()+"/").Bool("token", cfg.StatusToken != "").Msg("status page")
	return srv, nil
}

// statusConfig lists the run's settings for the status page: never a key, password or token.
func statusConfig(cfg *Config, run statusRun, addr string) []statusserver.ConfigItem {
	kinds, limit, acl, access := "all", "none", cfg.Destination.ACL, "open (no token)"
	if len(run.kinds) > 0 {
		kinds = strings.Join(run.kinds, ", ")
	}
	if run.limit > 0 {
		limit = strconv.FormatInt(run.limit, 10)
	}
	if acl == "" {
		acl = "(none sent)"
	}
	if cfg.StatusToken != "" {
		access = "token required"
	}
	return []statusserver.ConfigItem{
		{Name: "source", Value: location(cfg.Source)},
		{Name: "destination", Value: location(cfg.Destination)},
		{Name: "destination ACL", Value: acl},
		{Name: "concurrency", Value: strconv.Itoa(run.concurrency)},
		{Name: "retries", Value: strconv.Itoa(cfg.Retries)},
		{Name: "kinds", Value: kinds},
		{Name: "limit", Value: limit},
		{Name: "checkpoint", Value: run.checkpoint},
		{Name: "status server", Value: addr + ", " + access},
	}
}

// statusClient talks to a running copy's status server.
type statusClient struct {
	addr  string // host:port
	token string
	http  *http.Client
}

// errNoStatusServer means nothing answered at the address.
var errNoStatusServer = errors.New("no status server answers")

func newStatusClient(addr, token string) *statusClient {
	return &statusClient{addr: addr, token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// get decodes the JSON answer of path (with query) into v. A busy server (503, which it
// answers beyond the requests it takes at once) is asked again after its Retry-After, for up
// to about half a minute.
func (c *statusClient) get(ctx context.Context, path string, query url.Values, v any) error {
	u := url.URL{Scheme: "http", Host: c.addr, Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	var resp *http.Response
	for waited := time.Duration(0); ; {
		resp, err = c.http.Do(req)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("%w at %s (is a copy running with --status-addr?)", errNoStatusServer, c.addr)
			}
			var ne net.Error
			if errors.As(err, &ne) {
				return fmt.Errorf("status server at %s: %v", c.addr, ne)
			}
			return fmt.Errorf("status server at %s: %w", c.addr, err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || waited >= 30*time.Second {
			break
		}
		d := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 30 {
			d = time.Duration(n) * time.Second
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		waited += d
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return usageErrorf("S3SYNC_STATUS_TOKEN=... s3sync status", "the status server at %s wants its token: set [sync] status_token or S3SYNC_STATUS_TOKEN", c.addr)
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("status server at %s: %s %s: %s", c.addr, path, resp.Status, oneLine(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("status server at %s: %s: %w", c.addr, path, err)
	}
	return nil
}

// status returns the /api/status document.
func (c *statusClient) status(ctx context.Context) (statusserver.Status, error) {
	var st statusserver.Status
	err := c.get(ctx, "/api/status", nil, &st)
	return st, err
}

// failures calls fn for every failed or missing object of the given kinds and statuses, a
// page at a time, each page asked for with the cursor the one before ended with (next_after).
func (c *statusClient) failures(ctx context.Context, kinds []string, statuses []checkpoint.Status, fn func(engine.Row) error) error {
	q := url.Values{"limit": {strconv.Itoa(statusserver.MaxFailuresLimit)}}
	if len(kinds) > 0 {
		q.Set("kind", strings.Join(kinds, ","))
	}
	if len(statuses) > 0 {
		var names []string
		for _, s := range statuses {
			names = append(names, string(s))
		}
		q.Set("status", strings.Join(names, ","))
	}
	for {
		var page statusserver.Failures
		if err := c.get(ctx, "/api/failures", q, &page); err != nil {
			return err
		}
		for _, r := range page.Objects {
			if err := fn(r); err != nil {
				return err
			}
		}
		if page.NextAfter == "" {
			return nil
		}
		q.Set("after", page.NextAfter)
	}
}

// countsOf turns the status document's per-kind checkpoint tallies into report counts.
func countsOf(st statusserver.Status) map[string]map[checkpoint.Status]checkpoint.Count {
	out := map[string]map[checkpoint.Status]checkpoint.Count{}
	for _, k := range st.Kinds {
		byStatus := map[checkpoint.Status]checkpoint.Count{}
		for s, t := range k.Checkpoint {
			if t.Objects != 0 || t.Bytes != 0 {
				byStatus[checkpoint.Status(s)] = checkpoint.Count{Objects: t.Objects, Bytes: t.Bytes}
			}
		}
		out[k.Kind] = byStatus
	}
	return out
}
