package itest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is a /metrics page parsed with Prometheus' own text parser.
type Metrics map[string]*dto.MetricFamily

// Scrape asks h for GET /metrics as a Prometheus server in the text
// format would, and parses the page.
func Scrape(t testing.TB, h http.Handler) Metrics {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", w.Code, w.Body)
	}
	return ParseMetrics(t, w.Body)
}

// ParseMetrics parses the Prometheus text format; a page it refuses fails
// the test.
func ParseMetrics(t testing.TB, r io.Reader) Metrics {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// Get returns the value of the sample of family name with exactly these
// labels (name, value pairs, in any order): a counter's or a gauge's
// value, a histogram's count.
func (ms Metrics) Get(name string, labels ...string) (float64, bool) {
	f := ms[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				match = false
				break
			}
		}
		if match {
			return value(m), true
		}
	}
	return 0, false
}

// Sum returns the sum of the values of every sample of family name.
func (ms Metrics) Sum(name string) float64 {
	var sum float64
	if f := ms[name]; f != nil {
		for _, m := range f.GetMetric() {
			sum += value(m)
		}
	}
	return sum
}

// Names returns the families, sorted.
func (ms Metrics) Names() []string {
	var names []string
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// String names the families, for messages.
func (ms Metrics) String() string { return strings.Join(ms.Names(), " ") }

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
