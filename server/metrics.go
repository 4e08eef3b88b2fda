package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is what /metrics serves: the collector that reads the snapshot
// and the counters at scrape time, the Go and process collectors, and the
// histograms the request path and the feedback runs observe.
type metrics struct {
	registry *prometheus.Registry
	handler  http.Handler // the /metrics page of registry
	// requestDuration is observed per request through a child resolved
	// once per pool and configuration: no label lookup per request.
	requestDuration *prometheus.HistogramVec
	probeDuration   prometheus.Histogram
	probeFailures   prometheus.Counter
	pollDuration    prometheus.Histogram
	pollFailures    prometheus.Counter
}

// requestBuckets span a redirect: tens of microseconds when all is well,
// up to a second when the machine or Redis is in trouble.
var requestBuckets = []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1}

// feedbackBuckets span a probe or an SNMP poll: a millisecond on a LAN to
// the timeout.
var feedbackBuckets = []float64{1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dispatcher_request_duration_seconds", Buckets: requestBuckets,
			Help: "Time to answer a request on a pool route, from routing to the response written.",
		}, []string{"pool"}),
		probeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dispatcher_probe_duration_seconds", Buckets: feedbackBuckets,
			Help: "Duration of the HTTP health probes this instance made, failed ones included.",
		}),
		probeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatcher_probe_failures_total",
			Help: "HTTP health probes that failed (error, timeout or a status outside 2xx/3xx).",
		}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dispatcher_snmp_poll_duration_seconds", Buckets: feedbackBuckets,
			Help: "Duration of the SNMP polls this instance made, failed ones included.",
		}),
		pollFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dispatcher_snmp_poll_failures_total",
			Help: "SNMP polls that failed (no answer, an error, or an agent that cannot be reached).",
		}),
	}
	m.registry.MustRegister(collector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requestDuration, m.probeDuration, m.probeFailures, m.pollDuration, m.pollFailures)
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:          errorLog{s.log},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
	return m
}

// errorLog hands promhttp's errors (a collector that failed, a scraper
// gone) to the server's log.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }

// observeFeedback records one probe or poll (feedback.Options.Observe).
func (m *metrics) observeFeedback(kind string, d time.Duration, failed bool) {
	duration, failures := m.probeDuration, m.probeFailures
	if kind == "poll" {
		duration, failures = m.pollDuration, m.pollFailures
	}
	duration.Observe(d.Seconds())
	if failed {
		failures.Inc()
	}
}

// MetricsHandler implements handlers.Operator: client_golang's own
// handler on the server's registry, which negotiates the text format,
// OpenMetrics and gzip with the scraper, and answers what it gathered
// when a collector fails (and logs why).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }
