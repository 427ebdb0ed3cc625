package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
	"github.com/s3sync/s3sync/checkpoint"
	"github.com/s3sync/s3sync/engine"
	"github.com/s3sync/s3sync/tunnel"
	"github.com/s3sync/s3sync/tunnel/sshtest"
)

// fakeCatalog serves records with the given ids (one backups object each) and loses its
// connection on cue: scan call i fails after failAfter[i] pages (missing or -1 = never).
type fakeCatalog struct {
	ids        []int64
	failAfter  []int
	reconnect  func(n int) error // n-th call from 1; nil = succeed
	scans      []catalog.ScanOptions
	reconnects int
}

var errLost = fmt.Errorf("read: %w", catalog.ErrConnection)

func (f *fakeCatalog) Count(context.Context, catalog.Kind) (int64, error) {
	return int64(len(f.ids)), nil
}

func (f *fakeCatalog) Scan(ctx context.Context, kind catalog.Kind, opts catalog.ScanOptions, fn func(catalog.Page) error) error {
	call := len(f.scans)
	f.scans = append(f.scans, opts)
	failAfter := -1
	if call < len(f.failAfter) {
		failAfter = f.failAfter[call]
	}
	var todo []int64
	switch {
	case opts.AfterID != nil:
		for _, id := range f.ids {
			if id > *opts.AfterID {
				todo = append(todo, id)
			}
		}
	default:
		todo = f.ids[min(int(opts.Offset), len(f.ids)):]
	}
	if opts.Limit > 0 && int64(len(todo)) > opts.Limit {
		todo = todo[:opts.Limit]
	}
	size := max(opts.PageSize, 1)
	pages := 0
	for ; len(todo) > 0; pages++ {
		if pages == failAfter {
			return errLost
		}
		n := min(size, len(todo))
		p := catalog.Page{Records: n, LastID: todo[n-1]}
		for _, id := range todo[:n] {
			p.Objects = append(p.Objects, catalog.Object{Kind: catalog.Backups, RecordID: id, Attachment: "dump", Style: "original",
				Candidates: []string{"backups/dumps/" + strconv.FormatInt(id, 10) + ".zip"}})
		}
		todo = todo[n:]
		if err := fn(p); err != nil {
			return err
		}
	}
	if pages == failAfter { // lost after the last page, before the end was known
		return errLost
	}
	return nil
}

func (f *fakeCatalog) Reconnect(context.Context) error {
	f.reconnects++
	if f.reconnect != nil {
		return f.reconnect(f.reconnects)
	}
	return nil
}

func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func newCheckpoint(t *testing.T) *checkpoint.DB {
	t.Helper()
	db, err := checkpoint.Open(filepath.Join(t.TempDir(), "c.db"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// recordsIn returns the record ids the checkpoint holds for kind, in order.
func recordsIn(t *testing.T, db *checkpoint.DB, kind string) []int64 {
	t.Helper()
	var out []int64
	err := db.Each(checkpoint.Filter{Kinds: []string{kind}}, func(o checkpoint.Object) error {
		out = append(out, o.RecordID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fastPlan(limit, offset int64) engine.PlanOptions {
	return engine.PlanOptions{Kinds: []catalog.Kind{catalog.Backups}, Limit: limit, Offset: offset, PageSize: 3,
		ReconnectBackoff: time.Millisecond}
}

// A lost connection is replaced and the scan continues after the last committed page:
// nothing read twice, nothing skipped, every page reported.
func TestPlanResumesAfterLostConnection(t *testing.T) {
	cat := &fakeCatalog{ids: ids(10), failAfter: []int{2, 0}}
	db := newCheckpoint(t)
	opts := fastPlan(0, 0)
	var pages []int64
	opts.OnPage = func(s engine.KindSummary) { pages = append(pages, s.Records) }
	sums, err := engine.Plan(context.Background(), cat, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := sums[0]; s.Records != 10 || s.New != 10 || s.Known != 0 || s.Objects != 10 {
		t.Errorf("summary %+v", s)
	}
	if got := recordsIn(t, db, "backups"); !reflect.DeepEqual(got, ids(10)) {
		t.Errorf("checkpoint holds %v", got)
	}
	if cat.reconnects != 2 || len(cat.scans) != 3 {
		t.Fatalf("%d reconnects, %d scans; want 2 and 3", cat.reconnects, len(cat.scans))
	}
	for _, so := range cat.scans[1:] {
		if so.AfterID == nil || *so.AfterID != 6 {
			t.Errorf("resumed scan %+v, want AfterID 6", so)
		}
	}
	if !reflect.DeepEqual(pages, []int64{3, 6, 9, 10}) {
		t.Errorf("OnPage saw %v", pages)
	}
}

// Offset applies once; records read before the loss count toward Limit.
func TestPlanResumeKeepsOffsetAndLimit(t *testing.T) {
	cat := &fakeCatalog{ids: ids(20), failAfter: []int{1}}
	db := newCheckpoint(t)
	sums, err := engine.Plan(context.Background(), cat, db, fastPlan(7, 2))
	if err != nil {
		t.Fatal(err)
	}
	if got := recordsIn(t, db, "backups"); !reflect.DeepEqual(got, []int64{3, 4, 5, 6, 7, 8, 9}) || sums[0].Records != 7 {
		t.Errorf("checkpoint holds %v, summary %+v", got, sums[0])
	}
	if so := cat.scans[1]; so.AfterID == nil || *so.AfterID != 5 || so.Limit != 4 {
		t.Errorf("resumed scan %+v, want AfterID 5 Limit 4", so)
	}

	// Lost right after the page that reached the limit: nothing more is read.
	cat = &fakeCatalog{ids: ids(20), failAfter: []int{2}}
	db = newCheckpoint(t)
	if _, err := engine.Plan(context.Background(), cat, db, fastPlan(6, 0)); err != nil {
		t.Fatal(err)
	}
	if got := recordsIn(t, db, "backups"); !reflect.DeepEqual(got, ids(6)) {
		t.Errorf("checkpoint holds %v", got)
	}
}

// Reconnection gives up after Reconnects failures in a row, naming the cause.
func TestPlanGivesUp(t *testing.T) {
	cat := &fakeCatalog{ids: ids(10), failAfter: []int{1},
		reconnect: func(int) error { return fmt.Errorf("connect: refused: %w", catalog.ErrConnection) }}
	opts := fastPlan(0, 0)
	opts.Reconnects = 3
	sums, err := engine.Plan(context.Background(), cat, newCheckpoint(t), opts)
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 reconnection attempts") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error %v", err)
	}
	if cat.reconnects != 3 || sums[0].Records != 3 {
		t.Errorf("%d reconnects, summary %+v", cat.reconnects, sums[0])
	}

	// Failures count in a row: a committed page resets them.
	cat = &fakeCatalog{ids: ids(10), failAfter: []int{1, 1, 1, 1}}
	opts.Reconnects = 1
	if _, err := engine.Plan(context.Background(), cat, newCheckpoint(t), opts); err != nil {
		t.Errorf("four losses with progress in between: %v", err)
	}
}

// Only connection errors are retried; a reconnection refused for another reason stops at once.
func TestPlanRetriesOnlyConnectionErrors(t *testing.T) {
	auth := errors.New("password authentication failed")
	cat := &fakeCatalog{ids: ids(10), failAfter: []int{1}, reconnect: func(int) error { return auth }}
	if _, err := engine.Plan(context.Background(), cat, newCheckpoint(t), fastPlan(0, 0)); !errors.Is(err, auth) || cat.reconnects != 1 {
		t.Errorf("error %v after %d reconnects, want the auth error after 1", err, cat.reconnects)
	}
	cat = &fakeCatalog{ids: ids(10), failAfter: []int{1}}
	opts := fastPlan(0, 0)
	opts.Reconnects = -1
	if _, err := engine.Plan(context.Background(), cat, newCheckpoint(t), opts); !errors.Is(err, catalog.ErrConnection) || cat.reconnects != 0 {
		t.Errorf("Reconnects -1: error %v after %d reconnects", err, cat.reconnects)
	}
}

// Interrupting the wait before a reconnection returns at once with the context's error.
func TestPlanReconnectInterrupted(t *testing.T) {
	cat := &fakeCatalog{ids: ids(10), failAfter: []int{1}}
	opts := fastPlan(0, 0)
	opts.ReconnectBackoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := engine.Plan(ctx, cat, newCheckpoint(t), opts); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("error %v after %s", err, time.Since(start))
	}
}

// --- against the real services -----------------------------------------------------

// planDB returns a database with 40 backups and 20 media attachments, read 5 records a page.
func planDB(t *testing.T) *pgtest.Database {
	t.Helper()
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	db.Exec(t, `INSERT INTO backups (id, dump_file_name) SELECT i, i || '.zip' FROM generate_series(1, 40) i;
		INSERT INTO media_attachments (id, type, file_file_name, file_content_type, file_storage_schema_version, remote_url)
		SELECT i * 1000, 0, 'f' || i || '.jpg', 'image/jpeg', 1, CASE WHEN i % 3 = 0 THEN 'https://r.example/x' ELSE '' END
		FROM generate_series(1, 20) i`)
	return db
}

// objectsIn returns every object of the checkpoint as a comparable line.
func objectsIn(t *testing.T, db *checkpoint.DB) []string {
	t.Helper()
	var out []string
	err := db.Each(checkpoint.Filter{}, func(o checkpoint.Object) error {
		out = append(out, fmt.Sprintf("%s %q %d %s %v %s", o.ID(), o.Candidates, o.Size, o.ContentType, o.Remote, o.Status))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// planDirect plans db over a direct connection and returns the checkpoint's objects.
func planDirect(t *testing.T, db *pgtest.Database) []string {
	t.Helper()
	r, err := catalog.Open(context.Background(), db.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cp := newCheckpoint(t)
	if _, err := engine.Plan(context.Background(), r, cp, engine.PlanOptions{PageSize: 5}); err != nil {
		t.Fatal(err)
	}
	return objectsIn(t, cp)
}

func assertSameSummary(t *testing.T, sums []engine.KindSummary) {
	t.Helper()
	for _, s := range sums {
		if s.Known != 0 || s.New != s.Objects {
			t.Errorf("%s: %+v: an object was read twice", s.Kind, s)
		}
	}
}

// PostgreSQL ending the connection mid-plan (pg_terminate_backend, as in a restart): plan
// reconnects and ends with the same checkpoint as an undisturbed run.
func TestPlanSurvivesTerminatedBackend(t *testing.T) {
	db := planDB(t)
	want := planDirect(t, db)

	r, err := catalog.Open(context.Background(), db.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	admin, err := pgx.Connect(context.Background(), pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	cp := newCheckpoint(t)
	terminated := 0
	opts := engine.PlanOptions{PageSize: 5, ReconnectBackoff: 10 * time.Millisecond}
	opts.OnPage = func(s engine.KindSummary) {
		// Twice: in the middle of media_attachments and of backups.
		if s.Records == 10 && terminated < 2 {
			var n int
			err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = $1 AND application_name = 's3sync'`, db.Name).Scan(&n)
			if err != nil || n != 1 {
				t.Errorf("terminate: %d backends, %v", n, err)
			}
			terminated++
		}
	}
	sums, err := engine.Plan(context.Background(), r, cp, opts)
	if err != nil {
		t.Fatal(err)
	}
	if terminated != 2 {
		t.Fatalf("terminated %d times", terminated)
	}
	assertSameSummary(t, sums)
	if got := objectsIn(t, cp); !reflect.DeepEqual(got, want) {
		t.Errorf("checkpoint after the terminations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sshd killed mid-plan and restarted a moment later: plan reconnects through a new SSH
// connection and ends with the same checkpoint as a direct run.
func TestPlanSurvivesSSHDRestart(t *testing.T) {
	srv := sshtest.New(t)
	db := planDB(t)
	want := planDirect(t, db)

	in := srv.StartInstance(t)
	tc := in.Tunnel()
	tc.KeyFile = srv.Key
	tun, err := tunnel.Open(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	cfg := db.Config
	cfg.DialFunc = tun.DialContext
	r, err := catalog.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	cp := newCheckpoint(t)
	var (
		killed  bool
		wg      sync.WaitGroup
		restart error
	)
	defer wg.Wait()
	opts := engine.PlanOptions{PageSize: 5, ReconnectBackoff: 100 * time.Millisecond}
	opts.OnPage = func(s engine.KindSummary) {
		if s.Kind == catalog.Backups && s.Records == 15 && !killed {
			killed = true
			in.Kill()
			wg.Add(1)
			go func() { // back after the first reconnection attempt has failed
				defer wg.Done()
				time.Sleep(150 * time.Millisecond)
				restart = in.TryStart()
			}()
		}
	}
	sums, err := engine.Plan(context.Background(), r, cp, opts)
	wg.Wait()
	if restart != nil {
		t.Fatal(restart)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !killed {
		t.Fatal("sshd was not killed")
	}
	assertSameSummary(t, sums)
	if got := objectsIn(t, cp); !reflect.DeepEqual(got, want) {
		t.Errorf("checkpoint after the restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
