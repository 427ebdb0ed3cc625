package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/internal/testio"
	"github.com/s3sync/s3sync/storage"
	"github.com/s3sync/s3sync/storage/s3test"
)

// longMode is `make test-long`: many more kill points and objects.
func longMode() bool { return os.Getenv("S3SYNC_LONG") == "1" }

// seed returns the seed for a randomised test, from S3SYNC_SEED when replaying a failure.
func seed(t *testing.T) uint64 {
	t.Helper()
	n := uint64(time.Now().UnixNano())
	if v := os.Getenv("S3SYNC_SEED"); v != "" {
		var err error
		if n, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("S3SYNC_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with S3SYNC_SEED=%d)", n, n)
	return n
}

// destinationETags lists the destination: key → ETag (the MD5 of the body on this server).
func (s *sandbox) destinationETags() map[string]string {
	s.t.Helper()
	c, err := storage.New(s.s3.Config(s.dst))
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]string{}
	err = c.List(context.Background(), "", func(o storage.ListedObject) error {
		out[o.Key] = o.ETag
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// checkInvariants checks the checkpoint after an interruption: indexes and counters agree with
// a full recount, and every object marked done is at the destination with the source's bytes.
// It returns the number of done objects.
func (s *sandbox) checkInvariants(bodies map[string][]byte) int {
	s.t.Helper()
	s.verifyCheckpoint()
	db, err := checkpoint.Open(s.checkpoint, checkpoint.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	etags := s.destinationETags()
	done := 0
	err = db.Each(checkpoint.Filter{Statuses: []checkpoint.Status{checkpoint.Done}}, func(o checkpoint.Object) error {
		done++
		if want := md5hex(bodies[o.SourceKey]); etags[o.SourceKey] != want {
			s.t.Errorf("%s is done, but the destination has ETag %q, want %q", o.SourceKey, etags[o.SourceKey], want)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return done
}

// Crash anywhere: copy is killed with SIGKILL at random moments (25 per run, 200 in long mode),
// each time continuing with `copy --resume`. After every kill, what is marked done is at the
// destination intact and the counters equal a recount; at the end every object is there, intact.
func TestCrashAnywhere(t *testing.T) {
	// Enough objects, slowed enough, that the copy is still running at the last kill.
	kills, n, delay := 25, 3000, 10*time.Millisecond // about 8 s of copying at concurrency 4
	if longMode() {
		kills, n, delay = 200, 20000, 20*time.Millisecond // about 100 s
	}
	rng := rand.New(rand.NewPCG(seed(t), 1))
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, n)
	slowSource(s, delay)
	s.must(exitOK, "plan")

	survived, lastDone := 0, 0
	for i := 0; i < kills && lastDone < n; i++ {
		cmd := s.command("copy", "--resume", "--concurrency", "4")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		done := s.checkInvariants(bodies)
		if done < lastDone {
			t.Fatalf("kill %d: done went down from %d to %d", i, lastDone, done)
		}
		lastDone = done
		survived++
	}
	t.Logf("survived %d kill points; %d of %d objects were done before the final resume", survived, lastDone, n)
	if survived < kills {
		t.Errorf("only %d kill points before the copy finished; make the copy slower", survived)
	}
	s.must(exitOK, "copy", "--resume")
	if done := s.checkInvariants(bodies); done != n {
		t.Errorf("%d of %d done after the final resume", done, n)
	}
	etags := s.destinationETags()
	for key, body := range bodies {
		if etags[key] != md5hex(body) {
			t.Errorf("%s: destination ETag %q, want %q", key, etags[key], md5hex(body))
		}
	}
}

// faultyPair puts fault proxies in front of the source and the destination and returns a
// function that sets one rule for both.
func faultyPair(s *sandbox) func(func(*http.Request) s3test.Fault) {
	src := s3test.NewFaultProxy(s.t, s.s3.Endpoint)
	dst := s3test.NewFaultProxy(s.t, s.s3.Endpoint)
	s.srcURL, s.dstURL = src.URL, dst.URL
	s.writeConfig()
	return func(rule func(*http.Request) s3test.Fault) {
		src.SetRule(rule)
		dst.SetRule(rule)
	}
}

// injected counts the faults a rule injected.
var injected atomic.Int64

// randomly returns a rule that applies fault to a fraction of the object requests, seeded;
// every injected fault is counted in injected.
func randomly(seed uint64, fraction float64, fault func(r *http.Request) s3test.Fault) func(*http.Request) s3test.Fault {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 2))
	return func(r *http.Request) s3test.Fault {
		if !strings.Contains(r.URL.Path, "/preview_cards/") { // leave bucket checks alone
			return s3test.Pass()
		}
		mu.Lock()
		hit := rng.Float64() < fraction
		mu.Unlock()
		if f := fault(r); hit && f != s3test.Pass() {
			injected.Add(1)
			return f
		}
		return s3test.Pass()
	}
}

// retriesIn reads "retries N" from copy's summary line.
func retriesIn(t *testing.T, stdout string) int {
	t.Helper()
	_, after, ok := strings.Cut(stdout, "retries ")
	if !ok {
		t.Fatalf("no retries in the summary:\n%s", stdout)
	}
	n, _ := strconv.Atoi(strings.TrimRight(strings.Fields(after)[0], ","))
	return n
}

// Flaky providers: each fault, on both sides, ends with zero failed objects and the retries
// counted, and every object intact at the destination.
func TestFlakyProviders(t *testing.T) {
	seed := seed(t)
	mid := func(r *http.Request) int64 { return 512 } // objects are at least 1 KiB
	scenarios := []struct {
		name string
		rule func(*http.Request) s3test.Fault
		slow bool
	}{
		{"503 SlowDown on 20% of requests", randomly(seed, 0.2, func(*http.Request) s3test.Fault { return s3test.Status(503, "SlowDown") }), false},
		{"500 InternalError on 20% of requests", randomly(seed, 0.2, func(*http.Request) s3test.Fault { return s3test.Status(500, "InternalError") }), false},
		{"connection reset on 20% of requests", randomly(seed, 0.2, func(*http.Request) s3test.Fault { return s3test.Reset() }), false},
		{"body cut mid-way on 20% of GETs", randomly(seed, 0.2, func(r *http.Request) s3test.Fault {
			if r.Method == http.MethodGet {
				return s3test.CutBody(mid(r))
			}
			return s3test.Pass()
		}), false},
		{"a byte flipped in 20% of GET bodies", randomly(seed, 0.2, func(r *http.Request) s3test.Fault {
			if r.Method == http.MethodGet {
				return s3test.Flip(mid(r))
			}
			return s3test.Pass()
		}), false},
		{"2-second stalls on 10% of requests", randomly(seed, 0.1, func(*http.Request) s3test.Fault { return s3test.Delay(2 * time.Second) }), true},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := newSandbox(t, pgtest.ModernSchema)
			s.retries = 10
			bodies := manyObjects(s, 40)
			set := faultyPair(s)
			s.must(exitOK, "plan")
			injected.Store(0)
			set(sc.rule)
			r := s.must(exitOK, "copy")
			set(nil)
			t.Logf("faults injected: %d, retries: %d", injected.Load(), retriesIn(t, r.stdout))
			if c := s.counts(); c[checkpoint.Done] != 40 || c[checkpoint.Failed] != 0 {
				t.Errorf("counts %v", c)
			}
			if retries := retriesIn(t, r.stdout); retries == 0 && !sc.slow {
				t.Errorf("no retries counted:\n%s", r.stdout)
			}
			s.assertCopied(bodies)
		})
	}
}

// A full outage of 30 seconds in the middle of a copy is ridden out by the retries.
func TestProviderOutage(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	s.retries = 10
	bodies := manyObjects(s, 60)
	set := faultyPair(s)
	s.must(exitOK, "plan")
	outage := 30 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	var mu sync.Mutex
	var start time.Time
	gets := 0
	set(func(r *http.Request) s3test.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/preview_cards/") {
			gets++
			if gets == 20 {
				start = time.Now() // the outage begins after 20 objects
			}
		}
		if !start.IsZero() && time.Since(start) < outage {
			return s3test.Status(503, "ServiceUnavailable")
		}
		return s3test.Pass()
	})
	began := time.Now()
	r := s.must(exitOK, "copy")
	if took := time.Since(began); took < outage {
		t.Errorf("copy took %s, shorter than the %s outage: the outage did not happen", took, outage)
	}
	if c := s.counts(); c[checkpoint.Done] != 60 || c[checkpoint.Failed] != 0 {
		t.Errorf("counts %v", c)
	}
	t.Logf("retries: %d", retriesIn(t, r.stdout))
	s.assertCopied(bodies)
}

// A permanent 403 on one prefix fails exactly those objects, with the cause in the report.
func TestPermanentDenialOnOnePrefix(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 30) // cards 1–30: ids 10–19 share the prefix preview_cards/images/000/000/01
	set := faultyPair(s)
	s.must(exitOK, "plan")
	set(func(r *http.Request) s3test.Fault {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/preview_cards/images/000/000/01") {
			return s3test.Status(403, "AccessDenied")
		}
		return s3test.Pass()
	})
	s.must(exitFailed, "copy")
	r := s.must(exitOK, "report", "--format", "csv", "--status", "failed")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")[1:]
	if len(lines) != 10 {
		t.Fatalf("%d failed, want the 10 under the denied prefix:\n%s", len(lines), r.stdout)
	}
	for _, l := range lines {
		if !strings.Contains(l, "/000/000/01") || !strings.Contains(l, "refused access") {
			t.Errorf("report row %q", l)
		}
	}
	if c := s.counts(); c[checkpoint.Done] != 20 {
		t.Errorf("counts %v", c)
	}
}

// A checkpoint that is not a checkpoint gives a clear one-line error (exit 1), never a panic.
func TestCorruptCheckpoint(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 5)
	s.must(exitOK, "plan")
	data, err := os.ReadFile(s.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"garbage":   []byte(strings.Repeat("not a checkpoint ", 1000)),
		"truncated": data[:len(data)/3],
	} {
		if err := os.WriteFile(s.checkpoint, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"report"}, {"copy", "--resume"}, {"plan"}} {
			r := s.run(args...)
			if r.code != exitError || strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") ||
				len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 || !strings.Contains(r.stderr, s.checkpoint) {
				t.Errorf("%s checkpoint, %s: %s", name, args, r)
			}
		}
	}
}

// A full disk while writing the checkpoint stops the copy cleanly (exit 1, the cause named);
// once there is space again `copy --resume` finishes with every object intact.
func TestFullDisk(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a small tmpfs (needs root): %v %s", err, out)
		testio.Missing(t, msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	s.checkpoint = filepath.Join(disk, "s3sync.db")
	s.writeConfig()
	bodies := manyObjects(s, 500)
	s.must(exitOK, "plan")

	// Fill the disk, leaving no room for the checkpoint to grow.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()

	r := s.run("copy")
	if r.code != exitError || !strings.Contains(r.stderr, "no space left on device") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("copy on a full disk: %s", r)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.checkInvariants(bodies)
	s.must(exitOK, "copy", "--resume")
	s.assertCopied(bodies)
}

// A table without a column s3sync needs is named in a clear message (exit 1) after the other
// kinds were planned.
func TestMissingColumn(t *testing.T) {
	s := newSandbox(t, pgtest.ModernSchema)
	manyObjects(s, 3)
	s.exec(`INSERT INTO custom_emojis (id, shortcode, image_file_name) VALUES (1, 'blob', 'e.png')`)
	s.exec(`ALTER TABLE custom_emojis DROP COLUMN image_file_name`)
	r := s.must(exitError, "plan")
	if !strings.Contains(r.stderr, "custom_emojis has no column image_file_name") || !strings.Contains(r.stdout, "column missing, skipped") {
		t.Errorf("plan: %s", r)
	}
	if c := s.counts(); c[checkpoint.Pending] != 3 {
		t.Errorf("the other kinds were not planned: %v", c)
	}
}
