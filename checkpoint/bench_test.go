package checkpoint

import (
	"fmt"
	"testing"
)

const benchBatch = 1000

// benchObjects returns n media objects shaped like plan's (18-digit ids, three candidates).
func benchObjects(first int64, n int) []Object {
	out := make([]Object, n)
	for i := range out {
		id := 109000000000000000 + first + int64(i)
		key := fmt.Sprintf("media_attachments/files/%03d/%03d/%03d/%03d/%03d/%03d/small/%016x.jpeg",
			id/1e15%1000, id/1e12%1000, id/1e9%1000, id/1e6%1000, id/1e3%1000, id%1000, id)
		out[i] = Object{
			Kind: "media_attachments", RecordID: id, Attachment: "file", Style: "small",
			Candidates:  []string{key, "cache/" + key, key[:len(key)-4] + "png"},
			Size:        123456,
			ContentType: "image/jpeg",
		}
	}
	return out
}

// BenchmarkMerge measures plan's write path: new objects, benchBatch per transaction.
func BenchmarkMerge(b *testing.B) { benchMerge(b, benchBatch) }

func benchMerge(b *testing.B, batchSize int) {
	db := openTemp(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := benchObjects(int64(i*batchSize), batchSize)
		b.StartTimer()
		if _, _, err := db.Merge(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkMergeKnown measures re-running plan over objects the checkpoint already holds.
func BenchmarkMergeKnown(b *testing.B) {
	db := openTemp(b)
	const total = 100 * benchBatch
	for i := 0; i < total; i += benchBatch {
		if _, _, err := db.Merge(benchObjects(int64(i), benchBatch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := benchObjects(int64(i*benchBatch%total), benchBatch)
		b.StartTimer()
		if _, _, err := db.Merge(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkApply measures copy's write path: benchBatch status updates per transaction over a
// checkpoint of 100,000 objects, each moving between indexes (pending → done → failed → ...).
func BenchmarkApply(b *testing.B) {
	db := openTemp(b)
	const total = 100 * benchBatch
	var all []string
	for i := 0; i < total; i += benchBatch {
		batch := benchObjects(int64(i), benchBatch)
		if _, _, err := db.Merge(batch); err != nil {
			b.Fatal(err)
		}
		all = append(all, ids(batch)...)
	}
	ups := make([]Update, benchBatch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first := i * benchBatch % total
		st := []Status{Done, Failed}[(i*benchBatch/total)%2]
		for j := range ups {
			ups[j] = Update{ID: all[first+j], Status: st, Bytes: 123456, SourceKey: "media_attachments/x", Attempts: 1}
			if st == Failed {
				ups[j].Error = "get: 503 SlowDown"
			}
		}
		if err := db.Apply(ups); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkNextPending measures taking benchBatch pending objects from a 100,000-object checkpoint.
func BenchmarkNextPending(b *testing.B) {
	db := openTemp(b)
	const total = 100 * benchBatch
	for i := 0; i < total; i += benchBatch {
		if _, _, err := db.Merge(benchObjects(int64(i), benchBatch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	after := ""
	for i := 0; i < b.N; i++ {
		page, err := db.NextPending(after, []string{"media_attachments"}, benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		after = ""
		if len(page) == benchBatch {
			after = page[len(page)-1].ID()
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "objects/s")
}
