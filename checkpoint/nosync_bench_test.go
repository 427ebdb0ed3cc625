package checkpoint

import "testing"

func BenchmarkMergeNoSync(b *testing.B) {
	db := openTemp(b)
	db.bolt.NoSync = true
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := benchObjects(int64(i)*benchBatch, benchBatch)
		b.StartTimer()
		if _, _, err := db.Merge(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "objects/s")
}
