package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/storage/s3test"
)

// manyObjects inserts n preview cards and uploads their images (sized 1–64 KiB).
func manyObjects(s *sandbox, n int) map[string][]byte {
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type)
		SELECT i, 'https://news.example/' || i, 'card' || i || '.jpg', 'image/jpeg' FROM generate_series(1, $1) AS i`, n)
	objs := make([]sourceObject, n)
	for i := range objs {
		id := i + 1
		objs[i] = sourceObject{fmt.Sprintf("preview_cards/images/%s/original/card%d.jpg", partition(id), id), 1024 + (id*997)%(63*1024), "image/jpeg", "", ""}
	}
	return s.upload(objs...)
}

func partition(id int) string {
	s := fmt.Sprintf("%09d", id)
	return s[0:3] + "/" + s[3:6] + "/" + s[6:9]
}

// slowSource puts a fault proxy in front of the source that delays every GET, so a copy
// takes long enough to be interrupted.
func slowSource(s *sandbox, d time.Duration) *s3test.FaultProxy {
	p := s3test.NewFaultProxy(s.t, s.s3.Endpoint)
	p.SetRule(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/preview_cards/") {
			return s3test.Delay(d)
		}
		return s3test.Pass()
	})
	s.srcURL = p.URL
	s.writeConfig()
	return p
}

// startSlowCopy plans, then starts the s3sync binary copying through a source that delays
// every GET by delay, and returns once n objects have reached the destination.
func (s *sandbox) startSlowCopy(delay time.Duration, n int) (*exec.Cmd, *bytes.Buffer) {
	s.t.Helper()
	slowSource(s, delay)
	s.must(exitOK, "plan")
	cmd, stderr := s.start("copy", "--concurrency", "4")
	waitFor(s.t, fmt.Sprintf("%d objects at the destination", n), time.Minute, func() bool { return len(s.s3.Keys(s.t, s.dst)) >= n })
	return cmd, stderr
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertDoneAtDestination checks the invariant of a checkpoint after any interruption: every
// object marked done is at the destination with the source's bytes.
func (s *sandbox) assertDoneAtDestination(bodies map[string][]byte) int {
	s.t.Helper()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	var done []string
	err = db.Each(checkpoint.Filter{Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
		done = append(done, o.DestKey())
		return nil
	})
	db.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, k := range done {
		body, _ := s.dstServer().GetObject(s.t, s.dst, k)
		if !bytes.Equal(body, bodies[k]) {
			s.t.Errorf("%s is done but the destination has %d bytes, want %d", k, len(body), len(bodies[k]))
		}
	}
	return len(done)
}

// A copy killed with SIGKILL mid-run loses nothing: what it marked done is at the destination,
// and `copy --resume` finishes with every object present and byte-identical. While the copy
// runs, `report` answers from its status snapshot instead of hanging on the locked checkpoint.
func TestKillThenResume(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 300)
	cmd, _ := s.startSlowCopy(100*time.Millisecond, 40)

	// The running copy holds the checkpoint; report must answer at once from the snapshot.
	t0 := time.Now()
	waitFor(t, "a status snapshot", 30*time.Second, func() bool {
		r := s.run("report")
		return r.code == exitOK && strings.Contains(r.stderr, "is running") && strings.Contains(r.stdout, "preview_cards")
	})
	t.Logf("report answered after %s", time.Since(t0))
	start := time.Now()
	r := s.run("report", "--format", "csv")
	if r.code != exitError || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", cmd.Process.Pid)) || time.Since(start) > 20*time.Second {
		t.Errorf("csv report during a copy: %s", r)
	}
	// A second copy is refused at once, naming the first.
	r = s.run("copy", "--resume")
	if r.code != exitError || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("second copy: %s", r)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	done := s.assertDoneAtDestination(bodies)
	if done == 0 || done == 300 {
		t.Fatalf("kill came at the wrong time: %d done", done)
	}
	t.Logf("killed after %d objects were marked done", done)

	s.must(exitUsage, "copy")
	s.must(exitOK, "copy", "--resume")
	s.assertCopied(bodies)
	if c := s.counts(); c[checkpoint.Done] != 300 {
		t.Errorf("counts %v", c)
	}
}

// The first SIGINT stops taking work, lets in-flight copies finish, saves the checkpoint and
// exits 130; `copy --resume` then finishes.
func TestInterruptThenResume(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 200)
	cmd, stderr := s.startSlowCopy(30*time.Millisecond, 20)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("want exit 130, got %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--resume") {
		t.Errorf("interrupted copy does not say how to continue:\n%s", stderr.String())
	}
	done := s.assertDoneAtDestination(bodies)
	// A clean stop records everything it copied: nothing at the destination is left pending.
	if keys := s.s3.Keys(t, s.dst); len(keys) != done {
		t.Errorf("%d objects at the destination but %d marked done", len(keys), done)
	}
	if n := s.s3.ListMultipartUploads(t, s.dst); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
	s.must(exitOK, "copy", "--resume")
	s.assertCopied(bodies)
}

// An object the source refuses ends as failed (exit 3) with the bucket named; once the cause
// is gone, retry-failed copies it and exits 0.
func TestRetryFailedAfterInjectedFailure(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 10)
	proxy := s.proxySource()
	s.must(exitOK, "plan")

	proxy.SetRule(func(r *http.Request) s3test.Fault {
		switch {
		case strings.HasSuffix(r.URL.Path, "/card3.jpg"):
			return s3test.Status(http.StatusForbidden, "AccessDenied")
		case strings.HasSuffix(r.URL.Path, "/card5.jpg"):
			return s3test.Status(http.StatusServiceUnavailable, "SlowDown")
		}
		return s3test.Pass()
	})
	r := s.must(exitFailed, "copy")
	if !strings.Contains(r.stderr, "2 object(s) failed") || !strings.Contains(r.stderr, "retry-failed") {
		t.Errorf("copy with failures: %s", r)
	}
	denied := s.object("preview_cards", 3, "image", "original")
	if denied.Status != checkpoint.Failed || !strings.Contains(denied.Error, s.src) || !strings.Contains(denied.Error, "refused access") {
		t.Errorf("denied object: %+v", denied)
	}
	throttled := s.object("preview_cards", 5, "image", "original")
	if throttled.Status != checkpoint.Failed || throttled.Attempts != 3 || !strings.Contains(throttled.Error, "SlowDown") {
		t.Errorf("throttled object (retries = 2, so 3 attempts): %+v", throttled)
	}
	r = s.must(exitOK, "report", "--format", "csv")
	if !strings.Contains(r.stdout, "card3.jpg") || !strings.Contains(r.stdout, "card5.jpg") {
		t.Errorf("report lacks the failures:\n%s", r.stdout)
	}

	proxy.SetRule(nil)
	s.must(exitOK, "retry-failed")
	s.assertCopied(bodies)
	if c := s.counts(); c[checkpoint.Done] != 10 || c[checkpoint.Failed] != 0 {
		t.Errorf("counts %v", c)
	}
}

// Throttling that clears within the retry budget never becomes a failure.
func TestThrottlingIsRetried(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 20)
	proxy := s.proxySource()
	s.must(exitOK, "plan")
	seen := map[string]bool{}
	var mu = make(chan struct{}, 1)
	proxy.SetRule(func(r *http.Request) s3test.Fault {
		mu <- struct{}{}
		defer func() { <-mu }()
		if r.Method == http.MethodGet && !seen[r.URL.Path] {
			seen[r.URL.Path] = true // every object's first GET is throttled
			return s3test.Status(http.StatusServiceUnavailable, "SlowDown")
		}
		return s3test.Pass()
	})
	r := s.must(exitOK, "copy")
	if !strings.Contains(r.stdout, "retries 20") {
		t.Errorf("want 20 retries in the summary:\n%s", r.stdout)
	}
	s.assertCopied(bodies)
}
