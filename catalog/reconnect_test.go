package catalog_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/s3sync/s3sync/catalog"
	"github.com/s3sync/s3sync/catalog/pgtest"
)

// AfterID starts after the given id and overrides Offset; Limit counts from there.
func TestScanAfterID(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1, 2, 5, 9, 12, 40)
	r := pgtest.Open(t, db.Config)
	after := int64(5)
	cases := []struct {
		opts catalog.ScanOptions
		want []int64
	}{
		{catalog.ScanOptions{AfterID: &after, PageSize: 2}, []int64{9, 12, 40}},
		{catalog.ScanOptions{AfterID: &after, Offset: 5, PageSize: 2}, []int64{9, 12, 40}},
		{catalog.ScanOptions{AfterID: &after, Limit: 2}, []int64{9, 12}},
	}
	for _, tc := range cases {
		if got := recordIDs(pgtest.ScanAll(t, r, catalog.Backups, tc.opts)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: ids %v, want %v", tc.opts, got, tc.want)
		}
	}
	zero := int64(0)
	if got := recordIDs(pgtest.ScanAll(t, r, catalog.Backups, catalog.ScanOptions{AfterID: &zero, Offset: 3})); len(got) != 6 {
		t.Errorf("AfterID 0: ids %v, want all", got)
	}
}

// terminateBackends ends the s3sync connections to db from an admin connection, as a
// PostgreSQL restart would, without disturbing other tests' databases.
func terminateBackends(t *testing.T, db *pgtest.Database) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = 's3sync' AND pid <> pg_backend_pid()`, db.Name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A terminated backend gives a connection error; Reconnect makes the Reader usable again.
// A failing query is not a connection error.
func TestReaderReconnect(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1, 2, 3, 4, 5)
	r := pgtest.Open(t, db.Config)
	ctx := context.Background()

	var ids []int64
	err := r.Scan(ctx, catalog.Backups, catalog.ScanOptions{PageSize: 2}, func(p catalog.Page) error {
		ids = append(ids, recordIDs([]catalog.Page{p})...)
		if len(ids) == 2 {
			if n := terminateBackends(t, db); n != 1 {
				t.Errorf("terminated %d backends, want 1", n)
			}
		}
		return nil
	})
	if !catalog.IsConnectionError(err) {
		t.Fatalf("scan across pg_terminate_backend: %v, want a connection error", err)
	}
	if _, err := r.Count(ctx, catalog.Backups); !catalog.IsConnectionError(err) {
		t.Fatalf("count on the lost connection: %v, want a connection error", err)
	}
	if err := r.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	last := ids[len(ids)-1]
	ids = append(ids, recordIDs(pgtest.ScanAll(t, r, catalog.Backups, catalog.ScanOptions{PageSize: 2, AfterID: &last}))...)
	if want := []int64{1, 2, 3, 4, 5}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}

	// Not connection errors: a callback's error, a missing table, a canceled context.
	stop := errors.New("stop")
	if err := r.Scan(ctx, catalog.Backups, catalog.ScanOptions{}, func(catalog.Page) error { return stop }); catalog.IsConnectionError(err) {
		t.Errorf("callback error classified as a connection error: %v", err)
	}
	db.Exec(t, "DROP TABLE backups")
	if err := r.Scan(ctx, catalog.Backups, catalog.ScanOptions{}, func(catalog.Page) error { return nil }); err == nil || catalog.IsConnectionError(err) {
		t.Errorf("query error: %v, want an error that is not a connection error", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Count(canceled, catalog.Accounts); err == nil || catalog.IsConnectionError(err) {
		t.Errorf("canceled count: %v, want an error that is not a connection error", err)
	}
}

// Reconnect to a server that refuses connections fails with a connection error, and the
// Reader can still Reconnect once the server is back (here: the right port again).
func TestReaderReconnectRefused(t *testing.T) {
	db := pgtest.NewDatabase(t, pgtest.Schema(pgtest.ModernSchema))
	insertBackups(t, db, 1)
	cfg := db.Config
	var dialPort atomic.Int64
	dialPort.Store(int64(cfg.Port))
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(db.Config.Host, strconv.FormatInt(dialPort.Load(), 10)))
	}
	r := pgtest.Open(t, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dialPort.Store(int64(l.Addr().(*net.TCPAddr).Port))
	l.Close() // nothing listens there now
	if err := r.Reconnect(context.Background()); !catalog.IsConnectionError(err) {
		t.Fatalf("reconnect to a closed port: %v, want a connection error", err)
	}
	dialPort.Store(int64(db.Config.Port))
	if err := r.Reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 1 {
		t.Errorf("count %d %v", n, err)
	}
}
