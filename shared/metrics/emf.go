package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of the EMF export.
const Namespace = "Conveyor"

// EMF's limits: metrics per document and values per metric.
const (
	emfMaxMetrics = 100
	emfMaxValues  = 100
)

// deltas keeps the changes since the last flush, per series.
type deltas struct {
	mu     sync.Mutex
	series map[string]*series
}

// series is one metric under one set of label values.
type series struct {
	name, unit     string
	labels, values []string
	histogram      bool
	sum            float64   // a counter's increase
	observed       []float64 // a histogram's observations
}

func newDeltas() *deltas { return &deltas{series: map[string]*series{}} }

func (d *deltas) add(name, unit string, labels, values []string, v float64, histogram bool) {
	key := name + "\x00" + strings.Join(values, "\x00")
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.series[key]
	if !ok {
		s = &series{name: name, unit: unit, labels: labels, values: slices.Clone(values), histogram: histogram}
		d.series[key] = s
	}
	if histogram {
		s.observed = append(s.observed, v)
	} else {
		s.sum += v
	}
}

// take returns the series and starts afresh.
func (d *deltas) take() []*series {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*series, 0, len(d.series))
	for _, s := range d.series {
		out = append(out, s)
	}
	d.series = map[string]*series{}
	return out
}

// FlushEMF writes what changed since the last flush as CloudWatch Embedded
// Metric Format, one JSON document per line, and forgets it: counters as
// their increase, histograms as the values observed. Series sharing their
// dimensions (the label names and values) share a document; each
// document is published with those dimensions and without any, so that
// dashboards can show totals. Nothing is written when the registry keeps
// no deltas (KeepDeltas) or nothing changed.
func (r *Registry) FlushEMF(w io.Writer, now time.Time) error {
	if r.deltas == nil {
		return nil
	}
	// One write a line: a log line written meanwhile cannot split one.
	for _, doc := range emfDocuments(r.deltas.take(), now) {
		if _, err := w.Write(append(doc, '\n')); err != nil {
			return fmt.Errorf("writing EMF: %w", err)
		}
	}
	return nil
}

// emfDocuments groups series by dimensions and renders each group within
// EMF's limits, in a stable order.
func emfDocuments(all []*series, now time.Time) [][]byte {
	groups := map[string][]*series{}
	var keys []string
	for _, s := range all {
		k := dimensionsKey(s)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	slices.Sort(keys)
	var docs [][]byte
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, func(a, b *series) int { return strings.Compare(a.name, b.name) })
		docs = append(docs, groupDocuments(g, now)...)
	}
	return docs
}

func dimensionsKey(s *series) string {
	var b strings.Builder
	for i, l := range s.labels {
		b.WriteString(l + "=" + s.values[i] + "\x00")
	}
	return b.String()
}

// groupDocuments renders series of the same dimensions: at most
// emfMaxMetrics metrics a document, and a histogram's observations
// emfMaxValues at a time (the rest in further documents).
func groupDocuments(g []*series, now time.Time) [][]byte {
	var docs [][]byte
	for len(g) > 0 {
		doc := newDocument(g[0])
		var rest []*series
		for _, s := range g {
			if len(doc.metrics) == emfMaxMetrics {
				rest = append(rest, s)
				continue
			}
			if !s.histogram {
				doc.set(s.name, s.unit, s.sum)
				continue
			}
			n := min(len(s.observed), emfMaxValues)
			doc.set(s.name, s.unit, s.observed[:n])
			if n < len(s.observed) {
				more := *s
				more.observed = s.observed[n:]
				rest = append(rest, &more)
			}
		}
		docs = append(docs, doc.render(now))
		g = rest
	}
	return docs
}

// document is one EMF line under construction.
type document struct {
	dimensions []string
	fields     map[string]any
	metrics    []map[string]string
}

// fieldOnly are labels written as fields of the log line but never made
// CloudWatch dimensions: each distinct dimension set is a billed custom
// metric, and an app label would make one per app (200 apps × 3
// environments × 7 results of conveyor_promotions_total alone, some $5 a
// day). Logs Insights still filters and groups by them.
var fieldOnly = map[string]bool{"app": true}

func newDocument(s *series) *document {
	d := &document{dimensions: []string{}, fields: map[string]any{}}
	for i, l := range s.labels {
		v := s.values[i]
		if v == "" {
			v = "none" // CloudWatch refuses empty dimension values
		}
		if !fieldOnly[l] {
			d.dimensions = append(d.dimensions, l)
		}
		d.fields[l] = v
	}
	return d
}

func (d *document) set(name, unit string, v any) {
	d.fields[name] = v
	d.metrics = append(d.metrics, map[string]string{"Name": name, "Unit": unit})
}

func (d *document) render(now time.Time) []byte {
	sets := [][]string{d.dimensions}
	if len(d.dimensions) > 0 {
		sets = append(sets, []string{})
	}
	d.fields["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": sets,
			"Metrics":    d.metrics,
		}},
	}
	b, _ := json.Marshal(d.fields)
	return b
}
