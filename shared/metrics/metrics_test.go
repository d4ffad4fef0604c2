package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape returns every sample as `name{labels} value` lines, parsed by the
// Prometheus text parser.
func scrape(t *testing.T, r *metrics.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			b.WriteString(name + "{" + strings.Join(labels, ",") + "} " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
	}
	return b.String()
}

func TestIngressCounts(t *testing.T) {
	r := metrics.New(metrics.Sources{})
	answers := map[string]func(w http.ResponseWriter){
		"/webhooks/github":                func(w http.ResponseWriter) { w.WriteHeader(202); w.Write([]byte(`{"status":"accepted"}`)) },
		"/webhooks/registry/harbor":       func(w http.ResponseWriter) { w.WriteHeader(200); w.Write([]byte(`{"status":"duplicate"}`)) },
		"/webhooks/registry/distribution": func(w http.ResponseWriter) { http.Error(w, "too big", http.StatusRequestEntityTooLarge) },
		"/webhooks/../../etc/passwd":      func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) },
	}
	h := r.Ingress(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { answers[req.URL.Path](w) }))
	for path := range answers {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.URL.Path = path
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	got := scrape(t, r)
	for _, want := range []string{
		"conveyor_events_received_total{source=github} 1",
		"conveyor_events_accepted_total{source=github} 1",
		"conveyor_events_refused_total{reason=duplicate,source=harbor} 1",
		"conveyor_events_refused_total{reason=request_entity_too_large,source=distribution} 1",
		"conveyor_events_refused_total{reason=unauthorized,source=other} 1",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, got)
		}
	}
}

func TestObserveNotifyAndGauges(t *testing.T) {
	r := metrics.New(metrics.Sources{
		Queues: func(context.Context) (map[string]queue.Stats, error) {
			return map[string]queue.Stats{"builds": {Visible: 2, InFlight: 1, Dead: 3}}, nil
		},
		Oldest: func(context.Context, string) (time.Duration, error) { return 90 * time.Second, nil },
	})
	obs := r.Observe("build")
	obs(context.Background(), consume.Outcome{Decision: retry.Decision{Action: retry.Delete}}, time.Second)
	obs(context.Background(), consume.Outcome{Decision: retry.Policy{}.Decide(retry.Permanent(errors.New("x")), 1)}, time.Second)
	r.Notify(context.Background(), notify.Event{Event: "refused", App: "web", Environment: "prod"})
	got := scrape(t, r)
	for _, want := range []string{
		"conveyor_handler_outcomes_total{function=build,outcome=delete} 1",
		"conveyor_handler_outcomes_total{function=build,outcome=dead-letter} 1",
		"conveyor_handler_duration_seconds{function=build} 2",
		"conveyor_promotions_total{app=web,environment=prod,result=refused} 1",
		"conveyor_queue_messages{queue=builds,state=visible} 2",
		"conveyor_queue_messages{queue=builds,state=inflight} 1",
		"conveyor_queue_dead_letters{queue=builds} 3",
		"conveyor_queue_oldest_message_age_seconds{queue=builds} 90",
		"conveyor_metrics_read_errors{} 0",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, got)
		}
	}
}
