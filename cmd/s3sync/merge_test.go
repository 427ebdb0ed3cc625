package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
)

// shardedSandbox is the setup of the shard tests: 120 preview cards at the
// source and 5 that are not, planned and copied as n shards by n processes. It returns the
// shards' checkpoints.
func shardedSandbox(t *testing.T, n int) (*sandbox, map[string][]byte, []string) {
	s := newSandbox(t, pgtest.ModernSchema)
	bodies := manyObjects(s, 120)
	s.exec(`INSERT INTO preview_cards (id, url, image_file_name, image_content_type)
		SELECT i, 'https://gone.example/' || i, 'gone' || i || '.jpg', 'image/jpeg' FROM generate_series(1001, 1005) AS i`)
	var plans, copies [][]string
	for i := range n {
		plans = append(plans, []string{"plan", "--shard", fmt.Sprintf("%d/%d", i, n)})
		copies = append(copies, []string{"copy", "--shard", fmt.Sprintf("%d/%d", i, n), "--concurrency", "2"})
	}
	s.runAll(plans)
	s.runAll(copies)
	s.assertCopied(bodies)
	return s, bodies, s.shardFiles(n)
}

// failedIn returns the keys of the failed objects of a checkpoint, with their errors.
func failedIn(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.Each(checkpoint.Filter{Statuses: []checkpoint.Status{checkpoint.Failed}}, func(o checkpoint.Object) error {
		out[engine.RowOf(o).Key] = o.Error
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// holds returns whether the checkpoint at path holds an object with key.
func holds(t *testing.T, path, key string) bool {
	t.Helper()
	db, err := checkpoint.Open(path, checkpoint.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := false
	err = db.Each(checkpoint.Filter{}, func(o checkpoint.Object) error {
		found = found || engine.RowOf(o).Key == key
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// usage --merge and verify --merge over four shards: the merged usage equals a single-process
// run's; verify checks each shard in turn and marks a damaged object failed in the shard that
// holds it, and nowhere else; a shard held by a running copy is refused before any is verified.
func TestMergeUsageAndVerify(t *testing.T) {
	const n = 4
	s, _, files := shardedSandbox(t, n)
	merge := func(cmd string, extra ...string) []string {
		return append(append([]string{cmd}, extra...), append([]string{"--merge"}, files...)...)
	}

	mergedUsage := s.must(exitOK, merge("usage")...)
	r := s.must(exitOK, merge("verify")...)
	if !strings.Contains(r.stdout, "verified 120 object(s): 120 right, 0 problem(s) in 4 checkpoints") {
		t.Errorf("verify --merge:\n%s", r.stdout)
	}
	for _, f := range files {
		if !strings.Contains(r.stdout, f+": verified ") {
			t.Errorf("verify --merge says nothing of %s:\n%s", f, r.stdout)
		}
	}
	r = s.must(exitOK, merge("verify", "--sample", "10")...)
	if !strings.Contains(r.stdout, "verified 10 object(s): 10 right") {
		t.Errorf("verify --merge --sample 10:\n%s", r.stdout)
	}

	// A shard held by a running copy: refused, and no shard is verified.
	held, err := checkpoint.Open(files[2], checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	status := engine.StatusPath(files[2])
	if err := engine.WriteStatus(status, engine.Status{PID: os.Getpid(), Command: "copy", Running: true, StartedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r = s.must(exitError, merge("verify")...)
	if !strings.Contains(r.stderr, files[2]) || !strings.Contains(r.stderr, "running `s3sync copy`") || strings.Contains(r.stdout, "verified") {
		t.Errorf("verify --merge with a shard in use:\n%s", r)
	}
	held.Close()
	os.Remove(status)

	// Damage two objects at the destination: each becomes failed in its own shard only.
	damaged := []string{
		"preview_cards/images/000/000/007/original/card7.jpg",
		"preview_cards/images/000/000/042/original/card42.jpg",
	}
	s.s3.PutObject(t, s.dst, damaged[0], []byte("not the card"), "image/jpeg", "")
	s.s3.PutObject(t, s.dst, damaged[1], nil, "text/plain", "")
	r = s.must(exitFailed, merge("verify")...)
	if !strings.Contains(r.stdout, "verified 120 object(s): 118 right, 2 problem(s) in 4 checkpoints") {
		t.Errorf("verify --merge after damage:\n%s", r.stdout)
	}
	next := 0
	for _, f := range files {
		if strings.Contains(r.stdout, "next: s3sync --checkpoint "+f+" retry-failed") {
			next++
		}
	}
	if next < 1 || next > 2 {
		t.Errorf("verify --merge suggests retry-failed for %d shard(s):\n%s", next, r.stdout)
	}
	marked := 0
	for _, f := range files {
		failed := failedIn(t, f)
		for key, msg := range failed {
			marked++
			if key != damaged[0] && key != damaged[1] {
				t.Errorf("%s: %s marked failed (%s)", f, key, msg)
			}
			if !strings.HasPrefix(msg, "verify: ") {
				t.Errorf("%s: %s failed with %q", f, key, msg)
			}
		}
		for _, key := range damaged {
			if _, ok := failed[key]; ok != holds(t, f, key) {
				t.Errorf("%s: %s failed %v, but holds it %v", f, key, ok, !ok)
			}
		}
	}
	if marked != 2 {
		t.Errorf("%d object(s) marked failed over the shards, want 2", marked)
	}

	// The same database in one process, on the default checkpoint: the same usage.
	s.must(exitOK, "plan")
	s.must(exitOK, "copy")
	single := s.must(exitOK, "usage")
	if mergedUsage.stdout != single.stdout {
		t.Errorf("usage --merge:\n%s\nsingle-process usage:\n%s", mergedUsage.stdout, single.stdout)
	}

	// The same shard twice, a checkpoint that does not exist, checkpoints without --merge, or
	// --merge without checkpoints.
	for _, cmd := range []string{"usage", "verify"} {
		s.must(exitUsage, cmd, "--merge", files[0], files[0])
		s.must(exitUsage, cmd, "--merge", filepath.Join(s.dir, "nope.db"))
		s.must(exitUsage, cmd, files[0])
		s.must(exitUsage, cmd, "--merge")
	}
}

// --sample N over several checkpoints is spread in proportion to their done objects.
func TestMergeSpreadSample(t *testing.T) {
	for _, tc := range []struct {
		n       int
		weights []int64
		want    []int
	}{
		{10, []int64{30, 30, 30, 30}, []int{3, 3, 2, 2}},
		{10, []int64{0, 100, 0, 0}, []int{0, 10, 0, 0}},
		{500, []int64{3, 4}, []int{3, 4}},
		{3, []int64{1, 1, 1, 97}, []int{0, 0, 0, 3}},
		{5, nil, []int{}},
	} {
		got := spreadSample(tc.n, tc.weights)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("spreadSample(%d, %v) = %v, want %v", tc.n, tc.weights, got, tc.want)
		}
	}
}
