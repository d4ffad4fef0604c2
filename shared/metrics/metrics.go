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
	received   counter
	accepted   counter
	refused    counter
	outcomes   counter
	durations  histogram
	promotions counter
	builds     histogram
	pushed     counter
	forge      counter
	rateLimits histogram
	registry   counter
	aws        counter
	// deltas keeps what changed since the last FlushEMF (nil: not kept).
	deltas *deltas
}

// Option configures a Registry.
type Option func(*Registry)

// KeepDeltas keeps every change since the last FlushEMF, for a runtime
// that exports them (Lambda: as CloudWatch EMF at the end of each
// invocation). Without it FlushEMF writes nothing.
func KeepDeltas() Option { return func(r *Registry) { r.deltas = newDeltas() } }

// durationBuckets fit a handler, a build or a rate-limit wait.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// New returns a registry whose gauges read src.
func New(src Sources, opts ...Option) *Registry {
	r := &Registry{
		reg:      prometheus.NewRegistry(),
		received: newCounter("conveyor_events_received_total", "Webhook requests received, by source.", "source"),
		accepted: newCounter("conveyor_events_accepted_total", "Webhook events accepted and queued, by source.", "source"),
		refused: newCounter("conveyor_events_refused_total",
			"Webhook requests not queued, by source and reason (duplicate, ignored, or the HTTP status).", "source", "reason"),
		outcomes: newCounter("conveyor_handler_outcomes_total",
			"Messages handled, by function and decision (delete, retry, hold, requeue, dead-letter).", "function", "outcome"),
		durations: newHistogram("conveyor_handler_duration_seconds", "Time to handle one message, by function.", "function"),
		promotions: newCounter("conveyor_promotions_total",
			"Promotion events, by app, environment and result (opened, updated, waiting, merged, deferred, refused, dead_lettered).",
			"app", "environment", "result"),
		builds: newHistogram("conveyor_build_duration_seconds",
			"Time from checkout to pushed image, by app and result (pushed, present: the registry had it, failed).", "app", "result"),
		pushed: newCounter("conveyor_build_pushed_bytes_total",
			"Bytes of the images builds pushed (every manifest, config and layer each references), by app.", "app").bytes(),
		forge: newCounter("conveyor_forge_requests_total",
			"Forge API requests, by forge, method and status class (2xx…5xx, error: no answer).", "forge", "method", "code"),
		rateLimits: newHistogram("conveyor_forge_ratelimit_wait_seconds",
			"Rate-limited forge answers and the wait each named, by forge.", "forge"),
		registry: newCounter("conveyor_registry_requests_total",
			"Container registry requests (builds, digests, provenance), by method and status class.", "method", "code"),
		aws: newCounter("conveyor_aws_requests_total",
			"AWS API requests (SQS, DynamoDB, Secrets Manager, ECR), every attempt, by service, operation and status class.",
			"service", "operation", "code"),
	}
	for _, o := range opts {
		o(r)
	}
	r.reg.MustRegister(r.received, r.accepted, r.refused, r.outcomes, r.durations, r.promotions,
		r.builds, r.pushed, r.forge, r.rateLimits, r.registry, r.aws,
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
	return func(_ context.Context, o consume.Outcome, took time.Duration) {
		r.add(r.outcomes, 1, function, o.Decision.Action.String())
		r.observe(r.durations, took.Seconds(), function)
	}
}

// Notify counts a promotion event: the registry is a notify.Notifier.
func (r *Registry) Notify(_ context.Context, ev notify.Event) {
	r.add(r.promotions, 1, ev.App, ev.Environment, ev.Event)
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
