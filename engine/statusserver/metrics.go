package statusserver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/s3sync/s3sync/engine"
)

// Metric names, all prefixed s3sync_.
const (
	MetricObjects         = "s3sync_objects_total"
	MetricBytes           = "s3sync_bytes_total"
	MetricRequests        = "s3sync_requests_total"
	MetricRequestDuration = "s3sync_request_duration_seconds"
	MetricRetries         = "s3sync_retries_total"
	MetricInFlight        = "s3sync_inflight"
	MetricRunObjects      = "s3sync_run_objects"
	MetricETA             = "s3sync_eta_seconds"
	MetricStartTime       = "s3sync_start_time_seconds"
	MetricStatusRejected  = "s3sync_status_requests_rejected_total"
)

// Metrics of copy --follow, present only while the copy follows (after its first copy of the
// pending objects, when the monitor has a FollowState) and after it stopped following.
const (
	MetricFollowing          = "s3sync_following"
	MetricFollowLag          = "s3sync_follow_lag_seconds"
	MetricFollowLastPass     = "s3sync_follow_last_pass_timestamp_seconds"
	MetricFollowPasses       = "s3sync_follow_passes_total"
	MetricFollowObjectsAdded = "s3sync_follow_objects_added_total"
	MetricFollowRecordsSeen  = "s3sync_follow_records_seen_total"
	MetricFollowPending      = "s3sync_follow_pending_objects"
	MetricFollowQuietPasses  = "s3sync_follow_quiet_passes"
)

// requestBuckets span a fast HEAD on a LAN to a slow PUT across the world (seconds).
var requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics are the server's Prometheus metrics: request counts and latencies as they happen,
// everything else read from the monitor at scrape time.
type metrics struct {
	mon      *engine.Monitor
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rejected prometheus.Counter // requests of this server refused 503 because it was full

	objects, bytes, retries, inflight, runObjects, eta, start *prometheus.Desc
	following, followLag, followLastPass, followPasses, followAdded, followRecords,
	followPending, followQuiet *prometheus.Desc
}

func newMetrics(reg *prometheus.Registry, mon *engine.Monitor) *metrics {
	m := &metrics{
		mon: mon,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRequests,
			Help: "S3 requests by operation (GetObject, PutObject, ...) and outcome (ok, not_found, throttled, client_error, server_error, network_error, canceled)."},
			[]string{"op", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricRequestDuration,
			Help: "S3 request latency until the response headers, by operation and outcome.", Buckets: requestBuckets},
			[]string{"op", "outcome"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricStatusRejected,
			Help: "Requests to this status server answered 503 because it was handling as many as it takes at once."}),
		objects: prometheus.NewDesc(MetricObjects,
			"Objects in the checkpoint by kind and status (a gauge: pending falls as the others grow).", []string{"kind", "status"}, nil),
		bytes: prometheus.NewDesc(MetricBytes,
			"Bytes of the objects in the checkpoint by kind and status: written for done, as the database knows them otherwise.", []string{"kind", "status"}, nil),
		retries:    prometheus.NewDesc(MetricRetries, "Requests retried in this run.", nil, nil),
		inflight:   prometheus.NewDesc(MetricInFlight, "Objects being copied right now.", nil, nil),
		runObjects: prometheus.NewDesc(MetricRunObjects, "Objects this run takes: pending at its start, capped by --limit.", []string{"kind"}, nil),
		eta:        prometheus.NewDesc(MetricETA, "Estimated seconds until this run's objects are all processed; -1 while unknown.", nil, nil),
		start:      prometheus.NewDesc(MetricStartTime, "Start of this run, seconds since the Unix epoch.", nil, nil),
		following: prometheus.NewDesc(MetricFollowing,
			"1 while copy --follow keeps the destination current (passes and the waits between them), 0 once it stopped; absent without --follow.", nil, nil),
		followLag: prometheus.NewDesc(MetricFollowLag,
			"copy --follow: age of the oldest object still pending after the last pass; 0 when none is.", nil, nil),
		followLastPass: prometheus.NewDesc(MetricFollowLastPass,
			"copy --follow: end of the last pass, seconds since the Unix epoch.", nil, nil),
		followPasses: prometheus.NewDesc(MetricFollowPasses,
			"copy --follow: passes finished (the first copy of the pending objects is not one).", nil, nil),
		followAdded: prometheus.NewDesc(MetricFollowObjectsAdded,
			"copy --follow: objects the passes added to the checkpoint (new records, replaced files).", nil, nil),
		followRecords: prometheus.NewDesc(MetricFollowRecordsSeen,
			"copy --follow: database records the passes read.", nil, nil),
		followPending: prometheus.NewDesc(MetricFollowPending,
			"copy --follow: objects still pending after the last pass.", nil, nil),
		followQuiet: prometheus.NewDesc(MetricFollowQuietPasses,
			"copy --follow: passes in a row that found nothing new and left nothing pending.", nil, nil),
	}
	reg.MustRegister(m.requests, m.duration, m.rejected, m,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRequest(op, outcome string, d time.Duration) {
	m.requests.WithLabelValues(op, outcome).Inc()
	m.duration.WithLabelValues(op, outcome).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.objects, m.bytes, m.retries, m.inflight, m.runObjects, m.eta, m.start,
		m.following, m.followLag, m.followLastPass, m.followPasses, m.followAdded, m.followRecords, m.followPending, m.followQuiet} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from one snapshot of the monitor.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.mon.Snapshot()
	for _, k := range s.Kinds {
		for status, t := range k.Checkpoint {
			ch <- prometheus.MustNewConstMetric(m.objects, prometheus.GaugeValue, float64(t.Objects), k.Kind, status)
			ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(t.Bytes), k.Kind, status)
		}
		ch <- prometheus.MustNewConstMetric(m.runObjects, prometheus.GaugeValue, float64(k.Run.Total.Objects), k.Kind)
	}
	ch <- prometheus.MustNewConstMetric(m.retries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(m.inflight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(m.eta, prometheus.GaugeValue, s.ETASeconds)
	ch <- prometheus.MustNewConstMetric(m.start, prometheus.GaugeValue, float64(s.StartedAt.UnixNano())/1e9)
	if f := s.Follow; f != nil {
		following := 0.0
		if s.Running() {
			following = 1
		}
		ch <- prometheus.MustNewConstMetric(m.following, prometheus.GaugeValue, following)
		ch <- prometheus.MustNewConstMetric(m.followLag, prometheus.GaugeValue, f.LagSeconds)
		if !f.LastPassAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.followLastPass, prometheus.GaugeValue, float64(f.LastPassAt.UnixNano())/1e9)
		}
		ch <- prometheus.MustNewConstMetric(m.followPasses, prometheus.CounterValue, float64(f.Passes))
		ch <- prometheus.MustNewConstMetric(m.followAdded, prometheus.CounterValue, float64(f.ObjectsAdded))
		ch <- prometheus.MustNewConstMetric(m.followRecords, prometheus.CounterValue, float64(f.RecordsSeen))
		ch <- prometheus.MustNewConstMetric(m.followPending, prometheus.GaugeValue, float64(f.Pending))
		ch <- prometheus.MustNewConstMetric(m.followQuiet, prometheus.GaugeValue, float64(f.QuietPasses))
	}
}
