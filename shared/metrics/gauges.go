package metrics

import (
	"context"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/prometheus/client_golang/prometheus"
)

// gauges reads the queues and the records at each scrape.
type gauges struct{ src Sources }

var (
	descDepth = prometheus.NewDesc("conveyor_queue_messages", "Messages in a work queue, by state (visible, inflight, delayed).",
		[]string{"queue", "state"}, nil)
	descDead = prometheus.NewDesc("conveyor_queue_dead_letters", "Messages in a work queue's dead-letter queue.",
		[]string{"queue"}, nil)
	descAge = prometheus.NewDesc("conveyor_queue_oldest_message_age_seconds", "Age of a work queue's oldest message (0 when empty).",
		[]string{"queue"}, nil)
	descDeploys = prometheus.NewDesc("conveyor_dora_deployments_per_day", "DORA deployment frequency: production releases per day over the window.",
		[]string{"window"}, nil)
	descLead = prometheus.NewDesc("conveyor_dora_lead_time_seconds", "DORA lead time for changes: median source commit → production merge.",
		[]string{"window"}, nil)
	descFailure = prometheus.NewDesc("conveyor_dora_change_failure_rate", "DORA change failure rate: production rollbacks per deployment.",
		[]string{"window"}, nil)
	descRestore = prometheus.NewDesc("conveyor_dora_time_to_restore_seconds", "DORA time to restore: median rollback proposed → merged.",
		[]string{"window"}, nil)
	descScrapeErrors = prometheus.NewDesc("conveyor_metrics_read_errors", "Sources this scrape could not read (queues, records); see the log.",
		nil, nil)
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDepth, descDead, descAge, descDeploys, descLead, descFailure, descRestore, descScrapeErrors} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := g.queues(ctx, ch) + g.dora(ctx, ch)
	ch <- prometheus.MustNewConstMetric(descScrapeErrors, prometheus.GaugeValue, float64(errs))
}

func (g *gauges) queues(ctx context.Context, ch chan<- prometheus.Metric) (errs int) {
	if g.src.Queues == nil {
		return 0
	}
	stats, err := g.src.Queues(ctx)
	if err != nil {
		g.src.Log.WarnContext(ctx, "metrics: counting the queues", "error", err.Error())
		return 1
	}
	for name, s := range stats {
		for state, n := range map[string]int{"visible": s.Visible, "inflight": s.InFlight, "delayed": s.Delayed} {
			ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(n), name, state)
		}
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(s.Dead), name)
		if g.src.Oldest == nil {
			continue
		}
		age, err := g.src.Oldest(ctx, name)
		if err != nil {
			g.src.Log.WarnContext(ctx, "metrics: reading the oldest message", "queue", name, "error", err.Error())
			errs++
			continue
		}
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, age.Seconds(), name)
	}
	return errs
}

// dora computes the four metrics as `conveyor metrics` does, over the
// window ending now.
func (g *gauges) dora(ctx context.Context, ch chan<- prometheus.Metric) int {
	if g.src.Config == nil || g.src.Releases == nil {
		return 0
	}
	cfg, err := g.src.Config.Load(ctx)
	if err != nil {
		g.src.Log.WarnContext(ctx, "metrics: reading the pipeline", "error", err.Error())
		return 1
	}
	if cfg == nil {
		return 0 // no pipeline yet
	}
	now := g.src.Now()
	// Only what was written in the window: a scrape's cost follows the
	// window, not all history.
	rels, err := g.src.Releases.ListReleases(ctx, state.ReleaseFilter{UpdatedSince: now.Add(-g.src.Window)})
	if err != nil {
		g.src.Log.WarnContext(ctx, "metrics: reading the releases", "error", err.Error())
		return 1
	}
	m := lineage.Compute(cfg, rels, now.Add(-g.src.Window), now)
	w := g.src.Window.String()
	ch <- prometheus.MustNewConstMetric(descDeploys, prometheus.GaugeValue, m.DeploymentsPerDay, w)
	ch <- prometheus.MustNewConstMetric(descLead, prometheus.GaugeValue, m.LeadTimeSeconds, w)
	ch <- prometheus.MustNewConstMetric(descFailure, prometheus.GaugeValue, m.ChangeFailureRate, w)
	ch <- prometheus.MustNewConstMetric(descRestore, prometheus.GaugeValue, m.TimeToRestoreSeconds, w)
	return 0
}
