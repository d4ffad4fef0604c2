package metrics

import "github.com/prometheus/client_golang/prometheus"

// counter is a Prometheus counter vector with what its EMF export needs:
// its name, unit and label names.
type counter struct {
	*prometheus.CounterVec
	name, unit string
	labels     []string
}

func newCounter(name, help string, labels ...string) counter {
	return counter{CounterVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels),
		name: name, unit: "Count", labels: labels}
}

// bytes marks a counter of bytes.
func (c counter) bytes() counter {
	c.unit = "Bytes"
	return c
}

// histogram is a Prometheus histogram vector of seconds with its name and
// label names.
type histogram struct {
	*prometheus.HistogramVec
	name   string
	labels []string
}

func newHistogram(name, help string, labels ...string) histogram {
	return histogram{HistogramVec: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, labels),
		name: name, labels: labels}
}

// add counts v under the label values, and keeps it for the EMF export.
func (r *Registry) add(c counter, v float64, values ...string) {
	c.WithLabelValues(values...).Add(v)
	if r.deltas != nil {
		r.deltas.add(c.name, c.unit, c.labels, values, v, false)
	}
}

// observe records v under the label values, and keeps it for the EMF
// export.
func (r *Registry) observe(h histogram, v float64, values ...string) {
	h.WithLabelValues(values...).Observe(v)
	if r.deltas != nil {
		r.deltas.add(h.name, "Seconds", h.labels, values, v, true)
	}
}
