package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// shardFiles returns the default checkpoint paths of the n shards of the sandbox.
func (s *sandbox) shardFiles(n int) []string {
	var out []string
	for i := range n {
		out = append(out, filepath.Join(s.dir, fmt.Sprintf("s3sync-%d-of-%d.db", i, n)))
	}
	return out
}

// runAll runs one s3sync process per argument list at the same time and fails the test unless
// every one exits 0.
func (s *sandbox) runAll(argLists [][]string) {
	s.t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(argLists))
	for i, args := range argLists {
		cmd := s.command(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Sprintf("s3sync %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			s.t.Error(e)
		}
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
}

// csvRows returns the data rows of a csv report without updated_at, sorted.
func csvRows(t *testing.T, out string) []string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	var lines []string
	for _, r := range rows[1:] {
		lines = append(lines, strings.Join(r[:len(r)-1], ","))
	}
	sort.Strings(lines)
	return lines
}

// Four shards run as four processes (plan, then copy) cover every object exactly once, each in
// its own checkpoint beside the configured one, and `report --merge` over them equals the
// report of a single-process run over the same database.
func TestShardsCoverEveryObjectOnce(t *testing.T) {
	// 120 cards, and 5 whose images are not at the source: missing in whichever shard owns
	// them; planned and copied by 4 processes, one per shard.
	const n = 4
	s, _, files := shardedSandbox(t, n)

	// Every object in exactly one shard, and in the one its ID hashes to.
	seen := map[string]int{}
	for i, f := range files {
		db, err := checkpoint.Open(f, checkpoint.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		var ids []string
		err = db.Each(checkpoint.Filter{}, func(o checkpoint.Object) error { ids = append(ids, o.ID()); return nil })
		id, _ := db.Identity()
		shard := id.Shard
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if shard != fmt.Sprintf("%d/%d", i, n) {
			t.Errorf("%s records shard %q", f, shard)
		}
		if len(ids) == 0 {
			t.Errorf("shard %d is empty", i)
		}
		for _, id := range ids {
			seen[id]++
			if !(engine.Shard{I: i, N: n}).Owns(id) {
				t.Errorf("shard %d holds %s, which hashes elsewhere", i, id)
			}
		}
	}
	if len(seen) != 125 {
		t.Errorf("the shards hold %d distinct objects, want 125", len(seen))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s is in %d shards", id, k)
		}
	}

	merged := s.must(exitOK, append([]string{"report", "--merge"}, files...)...)
	mergedCSV := s.must(exitOK, append([]string{"report", "--format", "csv", "--status", "done,missing", "--merge"}, files...)...)

	// The same work in one process, on the default checkpoint.
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	single := s.must(exitOK, "report")
	singleCSV := s.must(exitOK, "report", "--format", "csv", "--status", "done,missing")
	if merged.stdout != single.stdout {
		t.Errorf("merged report:\n%s\nsingle-process report:\n%s", merged.stdout, single.stdout)
	}
	if a, b := csvRows(t, mergedCSV.stdout), csvRows(t, singleCSV.stdout); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("merged csv (%d rows) differs from the single-process csv (%d rows)", len(a), len(b))
	}
	if !strings.Contains(single.stdout, "120 (") || !strings.Contains(single.stdout, "5 (") {
		t.Errorf("single report:\n%s", single.stdout)
	}

	// Merging the same shard twice, a shard that does not exist, or checkpoints without --merge.
	s.must(exitUsage, "report", "--merge", files[0], files[0])
	s.must(exitUsage, "report", "--merge", filepath.Join(s.dir, "nope.db"))
	s.must(exitUsage, "report", files[0])
}

// --shard is checked, and a shard checkpoint refuses another shard.
func TestShardFlagErrors(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	for _, bad := range []string{"4/4", "1", "a/b", "-1/2", "0/0"} {
		s.must(exitUsage, "plan", "--shard", bad)
	}
	r := s.must(exitOK, "plan", "--shard", "1/2")
	if !strings.Contains(r.stdout, "s3sync-1-of-2.db") || !strings.Contains(r.stdout, "next: s3sync copy --shard 1/2") {
		t.Errorf("plan output:\n%s", r.stdout)
	}
	f := s.shardFiles(2)[1]
	s.must(exitUsage, "--checkpoint", f, "copy", "--shard", "0/2")
	s.must(exitUsage, "--checkpoint", f, "plan")
	s.must(exitOK, "--checkpoint", f, "copy") // the file says which shard it is
}

// With source and destination on one endpoint, copy runs server-side: the proxy in front of
// both sees HEADs and CopyObject/UploadPartCopy requests, never an object GET or a body PUT,
// and the copies keep the headers (and a 20 MiB object goes part by part).
func TestServerSideCopy(t *testing.T) {
	serverSideScenario(t, newSandbox(t, pgtest.ModernSchema))
}

// serverSideScenario copies layoutFixture server-side through a proxy in front of the
// sandbox's one server and checks what went over the wire and what arrived.
func serverSideScenario(t *testing.T, s *sandbox) {
	t.Helper()
	bodies := layoutFixture(s)
	proxy := s3test.NewFaultProxy(t, s.dstServer().Endpoint)
	s.srcURL, s.dstURL = proxy.URL, proxy.URL
	s.writeConfig()
	oldThreshold, oldPart := storage.CopyThreshold, storage.CopyPartSize
	storage.CopyThreshold, storage.CopyPartSize = 8<<20, 5<<20
	t.Cleanup(func() { storage.CopyThreshold, storage.CopyPartSize = oldThreshold, oldPart })

	s.must(exitOK, "plan")
	proxy.ResetLog()
	r := s.must(exitOK, "copy")
	if !strings.Contains(r.stdout, "mode: server-side") || !strings.Contains(r.stdout, "copied 23 object(s)") {
		t.Errorf("copy output:\n%s", r.stdout)
	}
	s.assertCopied(bodies)
	var copies, partCopies int
	for _, req := range proxy.Requests() {
		switch {
		case req.Method == http.MethodGet && strings.Count(req.Path, "/") > 2:
			t.Errorf("object GET through s3sync: %s", req.Path)
		case req.Method == http.MethodPut && req.Header.Get("X-Amz-Copy-Source") == "" && !strings.Contains(req.RawQuery, "uploadId"):
			t.Errorf("body PUT through s3sync: %s", req.Path)
		case req.Method == http.MethodPut && strings.Contains(req.RawQuery, "partNumber"):
			partCopies++
		case req.Method == http.MethodPut:
			copies++
		}
	}
	if copies < 22 || partCopies != 4 {
		t.Errorf("%d CopyObject and %d UploadPartCopy requests, want 22 (+1 probe) and 4", copies, partCopies)
	}
	s.assertLayoutMetadata()
	s.must(exitOK, "verify")
}

// auto falls back to streaming, saying why, when the provider refuses CopyObject; always
// stops instead; never streams.
func TestServerSideFallback(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 6)
	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint)
	s.srcURL, s.dstURL = proxy.URL, proxy.URL
	s.writeConfig()
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return s3test.Status(http.StatusNotImplemented, "NotImplemented")
		}
		return s3test.Pass()
	})
	s.must(exitOK, "plan")
	r := s.run("copy", "--server-side", "always")
	if r.code != exitError || !strings.Contains(r.stderr, "server-side copy (--server-side always)") {
		t.Errorf("always against a refusing provider: %s", r)
	}
	r = s.must(exitOK, "copy", "--resume")
	if !strings.Contains(r.stdout, "mode: streamed: server-side copy not possible: the provider refused a probe copy") {
		t.Errorf("auto fallback:\n%s", r.stdout)
	}
	s.assertCopied(bodies)
	s.must(exitOK, "retry-failed", "--server-side", "never")
	s.must(exitUsage, "copy", "--resume", "--server-side", "sometimes")
}

// --max-rps holds the request rate of each side under the limit: the requests the source
// proxy receives over the measured interval stay within rate × interval + burst.
func TestMaxRPS(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 60)
	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint) // source only: different endpoints, streamed
	var mu sync.Mutex
	var times []time.Time
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if strings.Contains(r.URL.Path, "/preview_cards/") {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}
		return s3test.Pass()
	})
	s.srcURL = proxy.URL
	s.writeConfig()
	s.must(exitOK, "plan")
	const rps = 20
	s.must(exitOK, "copy", "--max-rps", fmt.Sprint(rps), "--concurrency", "8")
	s.assertCopied(bodies)
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 60 {
		t.Fatalf("%d source requests, want at least 60", len(times))
	}
	span := times[len(times)-1].Sub(times[0]).Seconds()
	// A token bucket of rate r and burst b lets through at most b + r·t requests in t seconds.
	if allowed := float64(engine.RequestBurst(rps)) + rps*span*1.1 + 2; float64(len(times)) > allowed {
		t.Errorf("%d source requests in %.2fs: more than the %.0f a limit of %d/s allows", len(times), span, allowed, rps)
	}
	t.Logf("%d source requests in %.2fs (%.1f/s) under --max-rps %d", len(times), span, float64(len(times))/span, rps)
	s.must(exitUsage, "copy", "--resume", "--max-rps", "-1")
	s.must(exitUsage, "copy", "--resume", "--bwlimit", "fast")
}

// A storm of 503 SlowDown shrinks the concurrency (AIMD), which is logged and summarised, and
// the copy still completes. Before the storm the source proxy holds the first 8 object GETs
// until all 8 are there at once (so 8 objects were in flight: the proxy saw them); it answers
// them, and the next 22, with SlowDown. The copy's Throttle counts the objects in flight: 8
// before the storm, and fewer whenever an object started while the window was shrunken.
func TestSlowDownShrinksConcurrency(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 40)
	set := faultyPair(s)
	s.retries = 12
	s.writeConfig()
	s.must(exitOK, "plan")
	const conc, storm = 8, 30
	var mu sync.Mutex
	throttled, held, most := 0, 0, 0
	allThere := make(chan struct{})
	set(func(r *http.Request) s3test.Fault {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/preview_cards/") {
			return s3test.Pass()
		}
		mu.Lock()
		if throttled >= storm {
			mu.Unlock()
			return s3test.Pass()
		}
		throttled++
		first := throttled <= conc
		if first {
			held++
			most = max(most, held)
			if held == conc {
				close(allThere)
			}
		}
		mu.Unlock()
		if first {
			select {
			case <-allThere:
			case <-r.Context().Done():
			case <-time.After(time.Minute): // only so that a broken pool fails instead of hanging
			}
			mu.Lock()
			held--
			mu.Unlock()
		}
		return s3test.Status(http.StatusServiceUnavailable, "SlowDown")
	})
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"s3sync", "--config", s.config, "--log-level", "info", "--no-progress", "copy", "--concurrency", fmt.Sprint(conc)},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitOK {
		t.Fatalf("copy: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	s.assertCopied(bodies)
	mu.Lock()
	if most != conc || throttled != storm {
		t.Errorf("the source proxy held at most %d object GETs at once before the storm (want %d) and throttled %d (want %d)", most, conc, throttled, storm)
	}
	mu.Unlock()
	if !strings.Contains(errb.String(), "provider is throttling (SlowDown): concurrency 8 → 4") {
		t.Errorf("no back-off logged:\n%s", errb.String())
	}
	var lowest, cuts, ended, before, during, started int
	for _, line := range strings.Split(out.String(), "\n") {
		fmt.Sscanf(line, "throttled by the provider: concurrency went down to %d (%d time(s)), ended at %d", &lowest, &cuts, &ended)
		fmt.Sscanf(line, "objects in flight: up to %d before throttling, up to %d while throttled (%d object(s) started then)", &before, &during, &started)
	}
	switch {
	case cuts < 2 || lowest > 2 || lowest < 1:
		t.Errorf("the window went down to %d in %d cut(s); want at most 2, in 2 or more:\n%s", lowest, cuts, out.String())
	case before != conc:
		t.Errorf("%d objects in flight before the storm, want %d:\n%s", before, conc, out.String())
	case started == 0 || during < 1 || during >= conc:
		t.Errorf("%d object(s) started while throttled, with up to %d in flight; want some, with fewer than %d:\n%s", started, during, conc, out.String())
	}
	t.Logf("window down to %d (%d cuts); in flight: %d before the storm, up to %d for the %d objects started while throttled", lowest, cuts, before, during, started)
}

// check probes both buckets and the database and prints a verdict per item; a wrong bucket
// fails it (exit 1) with the config lines to fix, and a destination refusing ACLs gets `acl =`.
func TestCheck(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 2)
	setReadPolicy(t, s.s3, s.dst, "*") // visitors can read the destination (see TestCheckPublicRead)
	r := s.must(exitOK, "check")
	for _, want := range []string{"source bucket", "source get", "destination put", "destination delete", "checksum headers",
		"works: copy runs server-side", "database version", "Mastodon 4.6 (4.6.0 to 4.6.6 or a later 4.6.x patch release; schema 20260611150940)", "database tables", "preview_cards 2", "all checks passed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	if verdictOf(r.stdout, "database version") != "ok" {
		t.Errorf("database version verdict:\n%s", r.stdout)
	}
	// A database without schema_migrations: the version is unknown, a warning only.
	s.exec(`ALTER TABLE schema_migrations RENAME TO schema_migrations_away`)
	r = s.must(exitOK, "check")
	if verdictOf(r.stdout, "database version") != "warn" || !strings.Contains(r.stdout, "no schema_migrations") {
		t.Errorf("check without schema_migrations:\n%s", r.stdout)
	}
	s.exec(`ALTER TABLE schema_migrations_away RENAME TO schema_migrations`)
	if keys := s.s3.Keys(t, s.dst); len(keys) != 0 {
		t.Errorf("check left %q at the destination", keys)
	}

	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint)
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if r.Header.Get("X-Amz-Acl") != "" {
			return s3test.Status(http.StatusBadRequest, "AccessControlListNotSupported")
		}
		return s3test.Pass()
	})
	s.dstURL = proxy.URL
	s.writeConfig()
	r = s.must(exitError, "check")
	if verdictOf(r.stdout, "destination put") != "FAIL" || !strings.Contains(r.stdout, "acl =") {
		t.Errorf("ACL refusal:\n%s", r.stdout)
	}

	s.dst = "s3sync-no-such-bucket-check"
	s.writeConfig()
	r = s.must(exitError, "check")
	if verdictOf(r.stdout, "destination bucket") != "FAIL" || !strings.Contains(r.stdout, "bucket = <an existing bucket>") {
		t.Errorf("missing bucket:\n%s", r.stdout)
	}
}

// verdictOf returns the verdict check printed for item.
func verdictOf(out, item string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, item+"  "); ok {
			return strings.Fields(rest)[0]
		}
	}
	return ""
}

// One HTTP 500 on the server-side probe is no verdict: the probe is tried again and the copy
// runs server-side. A definite refusal (403) switches to streaming and says why, naming the
// copy source as s3://<source bucket>/<key>.
func TestServerSideProbeRetriesTransientErrors(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES (1, 'https://a.example/', 'a.jpg', 'image/jpeg')`)
	s.upload(sourceObject{"preview_cards/images/000/000/001/original/a.jpg", 10, "image/jpeg", "", ""})
	proxy := s3test.NewFaultProxy(t, s.s3.Endpoint)
	s.srcURL, s.dstURL = proxy.URL, proxy.URL
	s.writeConfig()
	var probes atomic.Int32
	probeFault := s3test.Status(http.StatusInternalServerError, "InternalError")
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/.s3sync-probe/") && probes.Add(1) == 1 {
			return probeFault
		}
		return s3test.Pass()
	})
	s.must(exitOK, "plan")
	r := s.must(exitOK, "copy")
	if !strings.Contains(r.stdout, "mode: server-side") || probes.Load() != 2 {
		t.Errorf("copy after one 500 on the probe (%d probes):\n%s", probes.Load(), r.stdout)
	}

	// A refusal is a verdict: streamed, and the message names the source as it is.
	s2 := newSandbox(t, pgtest.ModernSchema)
	s2.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type) VALUES (1, 'https://a.example/', 'a.jpg', 'image/jpeg')`)
	s2.upload(sourceObject{"preview_cards/images/000/000/001/original/a.jpg", 10, "image/jpeg", "", ""})
	proxy2 := s3test.NewFaultProxy(t, s2.s3.Endpoint)
	s2.srcURL, s2.dstURL = proxy2.URL, proxy2.URL
	s2.writeConfig()
	proxy2.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/.s3sync-probe/") {
			return s3test.Status(http.StatusForbidden, "AccessDenied")
		}
		return s3test.Pass()
	})
	s2.must(exitOK, "plan")
	r = s2.must(exitOK, "copy")
	want := "from s3://" + s2.src + "/preview_cards/images/000/000/001/original/a.jpg"
	if !strings.Contains(r.stdout+r.stderr, "streamed: server-side copy not possible") || !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("copy after a refused probe lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
	}
}
