package statusserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/internal/text"
)

var (
	// ErrNoServer is returned (wrapped) by Client when nothing listens at its address.
	ErrNoServer = errors.New("no status server answers")
	// ErrUnauthorized is returned (wrapped) by Client when the server wants a token it was not
	// given, or another one.
	ErrUnauthorized = errors.New("the status server wants its token")
)

// busyWait bounds how long Client waits out a busy server (503 with Retry-After) per request.
const busyWait = 30 * time.Second

// Client reads the API a Server serves: what `s3sync report` and `s3sync status` ask a
// running copy.
type Client struct {
	addr  string // host:port
	token string // "" = none
	http  *http.Client
}

// NewClient returns a Client of the server at addr (host:port), sending token when not empty.
func NewClient(addr, token string) *Client {
	return &Client{addr: addr, token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// Status returns the /api/status document.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.get(ctx, "/api/status", nil, &st)
	return st, err
}

// Failures calls fn for every failed or missing object of the given kinds and statuses (all
// when empty), a page at a time, each page asked for with the cursor the one before ended with
// (next_after).
func (c *Client) Failures(ctx context.Context, kinds []string, statuses []checkpoint.Status, fn func(engine.Row) error) error {
	q := url.Values{"limit": {strconv.Itoa(MaxFailuresLimit)}}
	if len(kinds) > 0 {
		q.Set("kind", strings.Join(kinds, ","))
	}
	if len(statuses) > 0 {
		names := make([]string, 0, len(statuses))
		for _, s := range statuses {
			names = append(names, string(s))
		}
		q.Set("status", strings.Join(names, ","))
	}
	for {
		var page Failures
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

// get decodes the JSON answer of path (with query) into v. A busy server (503, which it
// answers beyond the requests it takes at once) is asked again after its Retry-After, for up
// to busyWait.
func (c *Client) get(ctx context.Context, path string, query url.Values, v any) error {
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
				return fmt.Errorf("%w at %s (is a copy running with --status-addr?)", ErrNoServer, c.addr)
			}
			var ne net.Error
			if errors.As(err, &ne) {
				return fmt.Errorf("status server at %s: %v", c.addr, ne)
			}
			return fmt.Errorf("status server at %s: %w", c.addr, err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || waited >= busyWait {
			break
		}
		d := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= int(busyWait/time.Second) {
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
		return fmt.Errorf("%w (at %s)", ErrUnauthorized, c.addr)
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("status server at %s: %s %s: %s", c.addr, path, resp.Status, text.OneLine(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("status server at %s: %s: %w", c.addr, path, err)
	}
	return nil
}

// Counts returns the document's per-kind checkpoint tallies as checkpoint counts.
func (st Status) Counts() checkpoint.Counts {
	out := checkpoint.Counts{}
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
