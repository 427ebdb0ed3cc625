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
	for _, d := range []*prometheus.Desc{m.objects, m.bytes, m.retries, m.inflight, m.runObjects, m.eta, m.start} {
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
}
