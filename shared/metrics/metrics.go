package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are what the scrape-time gauges read. Each may be nil: its
// metrics are then left out.
type Sources struct {
	// Queues counts every work queue and its dead letters.
	Queues func(ctx context.Context) (map[string]queue.Stats, error)
	// Oldest is the age of a work queue's oldest message.
	Oldest func(ctx context.Context, name string) (time.Duration, error)
	// Config and Releases feed the DORA gauges.
	Config   config.Loader
	Releases state.Releases
	// Window is the DORA window (DefaultWindow when 0).
	Window time.Duration
	Now    func() time.Time
	Log    *slog.Logger
}

// DefaultWindow is the DORA metrics' window, as `conveyor metrics` uses
// by default.
const DefaultWindow = 30 * 24 * time.Hour

// Registry holds Conveyor's metrics.
type Registry struct {
	reg        *prometheus.Registry
	received   *prometheus.CounterVec
	accepted   *prometheus.CounterVec
	refused    *prometheus.CounterVec
	outcomes   *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	promotions *prometheus.CounterVec
}

// New returns a registry whose gauges read src.
func New(src Sources) *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_events_received_total",
			Help: "Webhook requests received, by source."}, []string{"source"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_events_accepted_total",
			Help: "Webhook events accepted and queued, by source."}, []string{"source"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_events_refused_total",
			Help: "Webhook requests not queued, by source and reason (duplicate, ignored, or the HTTP status)."}, []string{"source", "reason"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_handler_outcomes_total",
			Help: "Messages handled, by function and decision (delete, retry, hold, requeue, dead-letter)."}, []string{"function", "outcome"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "conveyor_handler_duration_seconds",
			Help:    "Time to handle one message, by function.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}}, []string{"function"}),
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_promotions_total",
			Help: "Promotion events, by app, environment and result (opened, updated, waiting, merged, deferred, refused, dead_lettered)."},
			[]string{"app", "environment", "result"}),
	}
	r.reg.MustRegister(r.received, r.accepted, r.refused, r.outcomes, r.durations, r.promotions,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "conveyor_notifications_dropped_total",
			Help: "Notifications that could not be queued (logged; the promotion went on)."},
			func() float64 { return float64(notify.Dropped()) }),
		&gauges{src: src.withDefaults()})
	return r
}

func (s Sources) withDefaults() Sources {
	if s.Window <= 0 {
		s.Window = DefaultWindow
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	return s
}

// Handler serves the metrics: OpenMetrics when the scraper asks for it,
// the text exposition format otherwise.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Observe returns a consume observer counting function's outcomes and
// timing its handling.
func (r *Registry) Observe(function string) func(context.Context, consume.Outcome, time.Duration) {
	durations := r.durations.WithLabelValues(function)
	return func(_ context.Context, o consume.Outcome, took time.Duration) {
		r.outcomes.WithLabelValues(function, o.Decision.Action.String()).Inc()
		durations.Observe(took.Seconds())
	}
}

// Notify counts a promotion event: the registry is a notify.Notifier.
func (r *Registry) Notify(_ context.Context, ev notify.Event) {
	r.promotions.WithLabelValues(ev.App, ev.Environment, ev.Event).Inc()
}

var _ notify.Notifier = (*Registry)(nil)

// source names a webhook path's sender; unknown paths share one label so
// that a scanner cannot grow the series without bound.
func source(path string) string {
	rest, ok := strings.CutPrefix(path, "/webhooks/")
	if !ok {
		return "other"
	}
	rest = strings.TrimPrefix(rest, "registry/")
	switch rest {
	case "github", "gitlab", "gitea", "distribution", "harbor", "ghcr", "ecr":
		return rest
	}
	return "other"
}
