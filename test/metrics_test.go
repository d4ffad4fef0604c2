package test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetrics runs the demo's story — a push built and promoted through
// dev and staging, prod approved by alice, and one forged webhook — then
// scrapes /metrics on the ingress port and reads it with the Prometheus
// text parser.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	c := newChain(t)
	c.push(demo.AppFiles(), time.Now().Add(-time.Hour))
	c.settle()
	pr := c.openPR()
	if err := c.g.Local.Approve(ctx, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	forged, err := http.Post(c.ingress+"/webhooks/github", "application/json", strings.NewReader(`{"ref":"refs/heads/main"}`))
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %s, want 401", forged.Status)
	}

	resp, err := http.Get(c.ingress + local.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Errorf("no metric family %s", name)
			return 0, false
		}
	metrics:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if label(m, k) != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
		return 0, false
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
		say    string
	}{
		{"conveyor_events_received_total", map[string]string{"source": "github"}, equal(2), "the push and the forgery (the local forge queues its reviews itself)"},
		{"conveyor_events_accepted_total", map[string]string{"source": "github"}, atLeast(1), "the push"},
		{"conveyor_events_accepted_total", map[string]string{"source": "distribution"}, atLeast(1), "the embedded registry's push"},
		{"conveyor_events_refused_total", map[string]string{"source": "github", "reason": "unauthorized"}, equal(1), "the forgery"},
		{"conveyor_handler_outcomes_total", map[string]string{"function": "build", "outcome": "delete"}, equal(1), "one build"},
		{"conveyor_handler_duration_seconds", map[string]string{"function": "promote"}, atLeast(3), "dev, staging, prod"},
		{"conveyor_promotions_total", map[string]string{"app": "web", "environment": "prod", "result": "opened"}, equal(1), "prod's PR"},
		{"conveyor_promotions_total", map[string]string{"app": "web", "environment": "prod", "result": "waiting"}, equal(1), "prod waiting for alice"},
		{"conveyor_promotions_total", map[string]string{"app": "web", "environment": "prod", "result": "merged"}, equal(1), "prod released"},
		{"conveyor_promotions_total", map[string]string{"app": "web", "environment": "dev", "result": "merged"}, equal(1), "dev released"},
		{"conveyor_build_duration_seconds", map[string]string{"app": "web", "result": "pushed"}, equal(1), "one image built and pushed"},
		{"conveyor_build_pushed_bytes_total", map[string]string{"app": "web"}, func(v float64) bool { return v > 0 }, "the image's bytes"},
		{"conveyor_registry_requests_total", map[string]string{"method": "PUT", "code": "2xx"}, atLeast(1), "the build's manifest push"},
		{"conveyor_registry_requests_total", map[string]string{"method": "GET", "code": "2xx"}, atLeast(1), "the registry function's reads"},
		{"conveyor_queue_messages", map[string]string{"queue": "promotions", "state": "visible"}, equal(0), "settled"},
		{"conveyor_queue_dead_letters", map[string]string{"queue": "builds"}, equal(0), "nothing failed"},
		{"conveyor_queue_oldest_message_age_seconds", map[string]string{"queue": "notifications"}, equal(0), "empty"},
		{"conveyor_dora_deployments_per_day", nil, func(v float64) bool { return v > 0 }, "one production release in 30 days"},
		{"conveyor_dora_lead_time_seconds", nil, func(v float64) bool { return v >= 3600 }, "the commit is an hour old"},
		{"conveyor_dora_change_failure_rate", nil, equal(0), "no rollback"},
		{"conveyor_dora_time_to_restore_seconds", nil, equal(0), "no rollback"},
	} {
		v, ok := value(tc.name, tc.labels)
		if !ok || !tc.want(v) {
			t.Errorf("%s%v = %v (found %v): want %s", tc.name, tc.labels, v, ok, tc.say)
		}
	}

	// A scraper that asks for OpenMetrics gets it.
	req, _ := http.NewRequest(http.MethodGet, c.ingress+local.PathMetrics, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	om, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	om.Body.Close()
	if ct := om.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("OpenMetrics Content-Type %q", ct)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
func equal(n float64) func(float64) bool   { return func(v float64) bool { return v == n } }
