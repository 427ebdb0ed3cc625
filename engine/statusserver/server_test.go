package statusserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/engine/statusserver"
	"github.com/s3sync/s3sync/storage"
)

// memBucket is an in-memory source and destination: the server under test only reads what
// the engine's monitor and the checkpoint say, so the buckets need not be real here (the
// browser and e2e tests in cmd/s3sync run against the real S3 server).
type memBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	fail    map[string]error // Get answers these keys with the error
	gate    chan struct{}    // when set, Put waits for it to close
}

var errNotFound = fmt.Errorf("s3 get: NoSuchKey (HTTP 404): %w", os.ErrNotExist)

func (b *memBucket) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail[key]; err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	body, ok := b.objects[key]
	if !ok {
		return nil, storage.ObjectInfo{}, errNotFound
	}
	return io.NopCloser(bytes.NewReader(body)), storage.ObjectInfo{Size: int64(len(body)), ContentType: "image/png"}, nil
}

func (b *memBucket) Put(ctx context.Context, key string, body io.Reader, size int64, _ storage.PutOptions) error {
	if b.gate != nil {
		select {
		case <-b.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = data
	return nil
}

// fixture is a checkpoint with objects of two kinds, a source holding all but two of them
// (one missing, one refused), and a server for a copy of it.
type fixture struct {
	db       *checkpoint.DB
	src, dst *memBucket
	mon      *engine.Monitor
	srv      *statusserver.Server
	http     *httptest.Server
}

const secretToken = "tok-3f9a7c"

func newFixture(t *testing.T, token string) *fixture {
	t.Helper()
	db, err := checkpoint.Open(filepath.Join(t.TempDir(), "c.db"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, src: &memBucket{objects: map[string][]byte{}, fail: map[string]error{}},
		dst: &memBucket{objects: map[string][]byte{}}, mon: engine.NewMonitor()}
	var objs []checkpoint.Object
	for i := int64(1); i <= 6; i++ {
		key := fmt.Sprintf("media_attachments/files/%d/original/a.png", i)
		objs = append(objs, checkpoint.Object{Kind: "media_attachments", RecordID: i, Attachment: "file", Style: "original", Candidates: []string{key}, Size: 100})
		if i != 4 {
			f.src.objects[key] = bytes.Repeat([]byte{'x'}, 100)
		}
	}
	for i := int64(1); i <= 3; i++ {
		key := fmt.Sprintf("accounts/avatars/%d/original/b.png", i)
		objs = append(objs, checkpoint.Object{Kind: "accounts", RecordID: i, Attachment: "avatar", Style: "original", Candidates: []string{key}, Size: 50})
		f.src.objects[key] = bytes.Repeat([]byte{'y'}, 50)
	}
	f.src.fail["accounts/avatars/2/original/b.png"] = errors.New("s3 get s3://src/accounts/avatars/2/original/b.png: AccessDenied (HTTP 403)")
	if _, _, err := db.Merge(objs); err != nil {
		t.Fatal(err)
	}
	f.srv = statusserver.New(statusserver.Options{Monitor: f.mon, DB: db, Token: token, Command: "copy", PID: 42,
		Config: []statusserver.ConfigItem{{Name: "source", Value: "s3://src at http://s3.example"}, {Name: "concurrency", Value: "2"}}})
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.http.Close)
	return f
}

// copy runs the copy to its end.
func (f *fixture) copy(t *testing.T) engine.CopySummary {
	t.Helper()
	sum, err := engine.Copy(context.Background(), f.db, f.src, f.dst, engine.CopyOptions{Concurrency: 2, Retries: 1,
		BackoffBase: time.Millisecond, FlushEvery: time.Millisecond, Monitor: f.mon, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (f *fixture) get(t *testing.T, path string, auth func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (f *fixture) getOK(t *testing.T, path string) []byte {
	t.Helper()
	resp, body := f.get(t, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return body
}

// The JSON document keeps its documented field names (README "Watching a sync") and its
// numbers add up after a copy with one missing and one failed object.
func TestAPIStatusShapeAndNumbers(t *testing.T) {
	f := newFixture(t, "")
	before := f.getOK(t, "/api/status")
	var st statusserver.Status
	if err := json.Unmarshal(before, &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != engine.PhaseStarting || st.Command != "copy" || st.PID != 42 || st.Version != statusserver.APIVersion {
		t.Errorf("before the copy: %+v", st)
	}
	f.copy(t)
	body := f.getOK(t, "/api/status")

	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := func(what string, m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q: %v", what, k, m)
			}
		}
	}
	wantKeys("status", doc, "version", "command", "pid", "phase", "started_at", "updated_at", "elapsed_seconds", "run",
		"objects_per_second", "bytes_per_second", "eta_seconds", "inflight", "retries", "kinds", "checkpoint",
		"history", "recent_failures", "config")
	run := doc["run"].(map[string]any)
	wantKeys("run", run, "total", "done", "failed", "missing")
	wantKeys("run.total", run["total"].(map[string]any), "objects", "bytes")
	kinds := doc["kinds"].([]any)
	wantKeys("kinds[0]", kinds[0].(map[string]any), "kind", "run", "checkpoint")
	wantKeys("checkpoint", doc["checkpoint"].(map[string]any), "pending", "done", "failed", "missing")
	fails := doc["recent_failures"].([]any)
	if len(fails) != 2 {
		t.Fatalf("recent_failures: %v", fails)
	}
	wantKeys("recent_failures[0]", fails[0].(map[string]any), "time", "kind", "id", "key", "status", "error", "attempts")
	wantKeys("history[0]", doc["history"].([]any)[0].(map[string]any), "time", "objects", "bytes", "objects_per_second", "bytes_per_second")
	wantKeys("config[0]", doc["config"].([]any)[0].(map[string]any), "name", "value")

	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	r := st.Run
	if st.Phase != engine.PhaseDone || r.Total.Objects != 9 || r.Done.Objects != 7 || r.Missing.Objects != 1 || r.Failed.Objects != 1 ||
		r.Done.Bytes != 5*100+2*50 || r.Total.Bytes != 6*100+3*50 || st.ETASeconds != 0 || st.InFlight != 0 {
		t.Errorf("after the copy: phase %s run %+v eta %v inflight %d", st.Phase, r, st.ETASeconds, st.InFlight)
	}
	if len(st.Kinds) != 2 || st.Kinds[0].Kind != "accounts" || st.Kinds[0].Run.Failed.Objects != 1 ||
		st.Kinds[1].Checkpoint["missing"].Objects != 1 || st.Kinds[1].Checkpoint["done"].Bytes != 500 || st.Kinds[1].Checkpoint["pending"].Objects != 0 {
		t.Errorf("kinds: %+v", st.Kinds)
	}
	if st.Checkpoint["done"].Objects != 7 || st.Checkpoint["pending"].Objects != 0 {
		t.Errorf("checkpoint totals: %+v", st.Checkpoint)
	}
	byStatus := map[string]engine.Failure{}
	for _, f := range st.RecentFailures {
		byStatus[f.Status] = f
	}
	if m := byStatus["missing"]; m.Key != "media_attachments/files/4/original/a.png" || m.Kind != "media_attachments" || !strings.Contains(m.Error, "not found") {
		t.Errorf("missing: %+v", m)
	}
	if m := byStatus["failed"]; m.Key != "accounts/avatars/2/original/b.png" || !strings.Contains(m.Error, "AccessDenied") || m.Attempts != 1 {
		t.Errorf("failed: %+v", m)
	}
	if len(st.Config) != 2 || st.Config[1] != (statusserver.ConfigItem{Name: "concurrency", Value: "2"}) {
		t.Errorf("config: %+v", st.Config)
	}

	// The checkpoint agrees with the monitor.
	counts, err := f.db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range st.Kinds {
		for status, tally := range k.Checkpoint {
			c := counts[k.Kind][checkpoint.Status(status)]
			if c.Objects != tally.Objects || c.Bytes != tally.Bytes {
				t.Errorf("%s/%s: monitor %+v, checkpoint %+v", k.Kind, status, tally, c)
			}
		}
	}
}

// While a copy runs, the status shows it copying with objects in flight and a known total.
func TestAPIStatusWhileCopying(t *testing.T) {
	f := newFixture(t, "")
	f.dst.gate = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.copy(t)
	}()
	deadline := time.Now().Add(10 * time.Second)
	var st statusserver.Status
	for {
		if err := json.Unmarshal(f.getOK(t, "/api/status"), &st); err != nil {
			t.Fatal(err)
		}
		if st.InFlight == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st.Phase != engine.PhaseCopying || st.InFlight != 2 || st.Run.Total.Objects != 9 || !st.Running() {
		t.Errorf("while copying: phase %s inflight %d total %d", st.Phase, st.InFlight, st.Run.Total.Objects)
	}
	// The checkpoint can be read beside the copy's writer.
	waitUntil := time.Now().Add(10 * time.Second)
	for {
		var page statusserver.Failures
		if err := json.Unmarshal(f.getOK(t, "/api/failures"), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Objects) > 0 || time.Now().After(waitUntil) {
			if len(page.Objects) == 0 {
				t.Error("/api/failures during the copy: no failure committed yet")
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(f.dst.gate)
	<-done
}

// /api/failures pages through failed and missing objects from the checkpoint, filtered by
// kind and status, and rejects bad parameters.
func TestAPIFailures(t *testing.T) {
	f := newFixture(t, "")
	f.copy(t)
	page := func(query string) statusserver.Failures {
		t.Helper()
		var out statusserver.Failures
		if err := json.Unmarshal(f.getOK(t, "/api/failures"+query), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := page("")
	if len(all.Objects) != 2 || all.NextAfter != "" || all.Limit != statusserver.DefaultFailuresLimit {
		t.Fatalf("all: %+v", all)
	}
	if all.Objects[0].Status != "failed" || all.Objects[0].Key != "accounts/avatars/2/original/b.png" || all.Objects[1].Status != "missing" {
		t.Errorf("order (by ID: accounts, then media_attachments): %+v", all.Objects)
	}
	p1 := page("?limit=1")
	p2 := page("?limit=1&after=" + url.QueryEscape(p1.NextAfter))
	if len(p1.Objects) != 1 || p1.NextAfter != "accounts/00000000000000000002/avatar/original" ||
		len(p2.Objects) != 1 || p2.NextAfter != "" || p2.After != p1.NextAfter || p2.Objects[0].Key != all.Objects[1].Key {
		t.Errorf("pages: %+v %+v", p1, p2)
	}
	if got := page("?limit=1&offset=0"); len(got.Objects) != 1 || got.Objects[0].Key != p1.Objects[0].Key {
		t.Errorf("offset=0 is the first page: %+v", got)
	}
	if got := page("?kind=media_attachments"); len(got.Objects) != 1 || got.Objects[0].Kind != "media_attachments" {
		t.Errorf("kind filter: %+v", got)
	}
	if got := page("?status=failed"); len(got.Objects) != 1 || got.Objects[0].Status != "failed" || got.Objects[0].Error == "" {
		t.Errorf("status filter: %+v", got)
	}
	if got := page("?kind=backups"); len(got.Objects) != 0 || got.Objects == nil {
		t.Errorf("empty kind must give an empty array: %+v", got)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?offset=-1", "?offset=1", "?status=done", "?status=bogus", "?kind=a/b"} {
		resp, body := f.get(t, "/api/failures"+q, nil)
		var e map[string]string
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e["error"] == "" {
			t.Errorf("%s: %s %s", q, resp.Status, body)
		}
	}
}

// /metrics is valid Prometheus text with the documented names and values that match the run.
func TestMetricsParse(t *testing.T) {
	f := newFixture(t, "")
	f.copy(t)
	f.srv.ObserveRequest("GetObject", storage.OutcomeOK, 20*time.Millisecond)
	f.srv.ObserveRequest("GetObject", storage.OutcomeOK, 3*time.Second)
	f.srv.ObserveRequest("GetObject", storage.OutcomeNotFound, time.Millisecond)
	f.srv.ObserveRequest("PutObject", storage.OutcomeThrottled, time.Millisecond)

	resp, body := f.get(t, "/metrics", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		fam, ok := fams[name]
		if !ok {
			return 0, false
		}
	next:
		for _, m := range fam.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
		return 0, false
	}
	checks := []struct {
		name   string
		labels map[string]string
		typ    dto.MetricType
		want   float64
	}{
		{statusserver.MetricObjects, map[string]string{"kind": "media_attachments", "status": "done"}, dto.MetricType_GAUGE, 5},
		{statusserver.MetricObjects, map[string]string{"kind": "media_attachments", "status": "missing"}, dto.MetricType_GAUGE, 1},
		{statusserver.MetricObjects, map[string]string{"kind": "accounts", "status": "failed"}, dto.MetricType_GAUGE, 1},
		{statusserver.MetricObjects, map[string]string{"kind": "accounts", "status": "pending"}, dto.MetricType_GAUGE, 0},
		{statusserver.MetricBytes, map[string]string{"kind": "media_attachments", "status": "done"}, dto.MetricType_GAUGE, 500},
		{statusserver.MetricRequests, map[string]string{"op": "GetObject", "outcome": "ok"}, dto.MetricType_COUNTER, 2},
		{statusserver.MetricRequests, map[string]string{"op": "PutObject", "outcome": "throttled"}, dto.MetricType_COUNTER, 1},
		{statusserver.MetricRequestDuration, map[string]string{"op": "GetObject", "outcome": "ok"}, dto.MetricType_HISTOGRAM, 2},
		{statusserver.MetricRetries, nil, dto.MetricType_COUNTER, 0},
		{statusserver.MetricInFlight, nil, dto.MetricType_GAUGE, 0},
		{statusserver.MetricRunObjects, map[string]string{"kind": "accounts"}, dto.MetricType_GAUGE, 3},
		{statusserver.MetricETA, nil, dto.MetricType_GAUGE, 0},
	}
	for _, c := range checks {
		if fam := fams[c.name]; fam == nil || fam.GetType() != c.typ {
			t.Errorf("%s: missing or not a %s", c.name, c.typ)
			continue
		}
		if got, ok := value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if v, ok := value(statusserver.MetricStartTime, nil); !ok || time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("start time %v", v)
	}
	// The slow request landed in the right bucket.
	for _, m := range fams[statusserver.MetricRequestDuration].GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() == 2.5 && b.GetCumulativeCount() != 1 && m.GetLabel()[1].GetValue() == "ok" {
				t.Errorf("bucket le=2.5: %d", b.GetCumulativeCount())
			}
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	var names []string
	for name := range fams {
		if strings.HasPrefix(name, "s3sync_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	t.Logf("metrics: %s", strings.Join(names, " "))
}

// With a token, every endpoint wants it: as the basic auth password or a bearer token.
func TestTokenRequiredEverywhere(t *testing.T) {
	f := newFixture(t, secretToken)
	for _, path := range []string{"/", "/api/status", "/api/failures", "/metrics", "/nothing"} {
		resp, body := f.get(t, path, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s without token: %s", path, resp.Status)
		}
		if bytes.Contains(body, []byte(secretToken)) {
			t.Errorf("%s: the 401 shows the token", path)
		}
		for name, auth := range map[string]func(*http.Request){
			"wrong basic":  func(r *http.Request) { r.SetBasicAuth("admin", "nope") },
			"wrong bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secretToken+"x") },
			"token as user": func(r *http.Request) {
				r.SetBasicAuth(secretToken, "")
			},
		} {
			if resp, _ := f.get(t, path, auth); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s: %s", path, name, resp.Status)
			}
		}
		want := http.StatusOK
		if path == "/nothing" {
			want = http.StatusNotFound
		}
		for name, auth := range map[string]func(*http.Request){
			"basic":  func(r *http.Request) { r.SetBasicAuth("anyone", secretToken) },
			"bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secretToken) },
		} {
			resp, body := f.get(t, path, auth)
			if resp.StatusCode != want {
				t.Errorf("%s with %s: %s", path, name, resp.Status)
			}
			if bytes.Contains(body, []byte(secretToken)) {
				t.Errorf("%s: the answer shows the token", path)
			}
		}
	}
}

// The page is one self-contained document: no external script, style, font or image, and a
// policy that forbids loading any.
func TestPageIsSelfContained(t *testing.T) {
	f := newFixture(t, "")
	resp, body := f.get(t, "/", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	page := string(body)
	for _, bad := range []string{"<script src", "<link", "@import", "url(", "innerHTML"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"' )]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("page refers to %s", u)
		}
	}
	for _, id := range []string{`id="processed"`, `id="total"`, `id="chart"`, `id="failures"`, `id="kinds"`, `id="config"`, `name="viewport"`} {
		if !strings.Contains(page, id) {
			t.Errorf("page lacks %s", id)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		in, listen string
		public     bool
		err        bool
	}{
		{"5555", "127.0.0.1:5555", false, false},
		{":5555", "127.0.0.1:5555", false, false},
		{"127.0.0.1:0", "127.0.0.1:0", false, false},
		{"localhost:5555", "localhost:5555", false, false},
		{"[::1]:5555", "[::1]:5555", false, false},
		{"0.0.0.0:5555", "0.0.0.0:5555", true, false},
		{"[::]:5555", "[::]:5555", true, false},
		{"192.168.1.10:80", "192.168.1.10:80", true, false},
		{"status.example:5555", "status.example:5555", true, false},
		{"", "", false, true},
		{"localhost", "", false, true},
		{"1.2.3.4:99999", "", false, true},
		{"host:port", "", false, true},
	} {
		listen, public, err := statusserver.ListenAddr(c.in)
		if listen != c.listen || public != c.public || (err != nil) != c.err {
			t.Errorf("ListenAddr(%q) = %q, %v, %v; want %q, %v, error %v", c.in, listen, public, err, c.listen, c.public, c.err)
		}
	}
}

// Start and Close on a real port; Addr names a dialable address even for 0.0.0.0.
func TestStartAndAddr(t *testing.T) {
	f := newFixture(t, "")
	if err := f.srv.Start("0.0.0.0:0"); err != nil {
		t.Fatal(err)
	}
	addr := f.srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("addr %q", addr)
	}
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %s", resp.Status)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/api/status"); err == nil {
		t.Error("still serving after Close")
	}
}
