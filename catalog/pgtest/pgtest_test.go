package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/s3sync/s3sync/catalog"
)

func TestUniqueName(t *testing.T) {
	a := uniqueName("TestScan/page size 2")
	b := uniqueName("TestScan/page size 2")
	if a == b || !strings.HasPrefix(a, "s3sync_test_testscan_page_size_2_") {
		t.Errorf("names %q and %q", a, b)
	}
	long := uniqueName(strings.Repeat("VeryLongSubtestName/", 10))
	if len(long) > 63 {
		t.Errorf("%q is longer than 63 bytes", long)
	}
}

func TestNewDatabase(t *testing.T) {
	db := NewDatabase(t, Schema(ModernSchema))
	db.Exec(t, "INSERT INTO backups (id, dump_file_name) VALUES (1, 'a.zip')")
	r, err := catalog.Open(context.Background(), db.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, k := range catalog.AllKinds {
		if !r.Available(k) {
			t.Errorf("%s missing from the modern schema", k)
		}
	}
	if !r.HasColumn(catalog.MediaAttachments, "thumbnail_storage_schema_version") {
		t.Error("modern schema lacks thumbnail_storage_schema_version")
	}
	if n, err := r.Count(context.Background(), catalog.Backups); err != nil || n != 1 {
		t.Errorf("Count = %d, %v", n, err)
	}

	err = LoadSQL(context.Background(), db.Config, "SELECT * FROM no_such_table")
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("LoadSQL error = %v", err)
	}
	bad := db.Config
	bad.Password = "Wr0ng-S3cret"
	if err := LoadSQL(context.Background(), bad, "SELECT 1"); err == nil || strings.Contains(err.Error(), bad.Password) {
		t.Errorf("LoadSQL with a wrong password: %v", err)
	}
}
