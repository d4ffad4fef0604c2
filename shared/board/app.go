package board

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

type appPage struct {
	page
	App      string
	Envs     []envSummary
	Journeys []journey
	Metrics  lineage.Metrics
	Chart    chart
}

type envSummary struct {
	Name        string
	Policy      string
	Frozen      bool
	FrozenUntil time.Time
}

type journey struct {
	lineage.Journey
	Commit *history.Commit
}

// metricsWindow is the window of the DORA metrics, as `conveyor metrics`
// defaults to; the chart covers it week by week.
const (
	metricsWindow = 28 * 24 * time.Hour
	chartBuckets  = 4
)

func (b *Board) app(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	version := b.version(ctx)
	name := r.PathValue("app")
	cfg, rels, err := b.records(ctx, state.ReleaseFilter{App: name})
	if err != nil {
		b.fail(ctx, w, "the pipeline", err)
		return
	}
	a, ok := cfg.App(name)
	if !ok {
		http.Error(w, "no such app in conveyor.yaml", http.StatusNotFound)
		return
	}
	now := b.now()
	p := appPage{page: page{Title: a.Name, Nav: "app", Version: version, Now: now}, App: a.Name}
	for i := range a.Environments {
		e := &a.Environments[i]
		s := envSummary{Name: e.Name, Policy: Policy(e)}
		s.Frozen, s.FrozenUntil = e.Frozen(now)
		p.Envs = append(p.Envs, s)
	}
	lookups, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, j := range lineage.History(a, rels) {
		p.Journeys = append(p.Journeys, journey{Journey: j, Commit: b.commit(lookups, a.Name, j.SourceRepo, j.SourceCommit)})
	}
	p.Metrics = lineage.Compute(cfg, rels, now.Add(-metricsWindow), now)
	p.Chart = weeklyDeployments(cfg, rels, now)
	b.render(ctx, w, r, "app", p)
}

// chart is a bar chart drawn as inline SVG: attributes only, since the
// Content-Security-Policy forbids inline styles.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int
}

type bar struct {
	X, Y, W, H int
	Count      int
	Label      string
	LabelX     int
}

// weeklyDeployments counts production deployments per week over the
// metrics window, with the same Compute the metrics use.
func weeklyDeployments(cfg *config.Config, rels []state.Release, now time.Time) chart {
	const week = 7 * 24 * time.Hour
	c := chart{Width: 320, Height: 120}
	counts := make([]int, chartBuckets)
	for i := range counts {
		until := now.Add(-time.Duration(chartBuckets-1-i) * week)
		counts[i] = lineage.Compute(cfg, rels, until.Add(-week), until).Deployments
		c.Max = max(c.Max, counts[i])
	}
	plot := c.Height - 20
	slot := c.Width / chartBuckets
	for i, n := range counts {
		h := 0
		if c.Max > 0 {
			h = n * plot / c.Max
		}
		label := "this week"
		if back := chartBuckets - 1 - i; back > 0 {
			label = strconv.Itoa(back) + "w ago"
		}
		c.Bars = append(c.Bars, bar{X: i*slot + 8, Y: plot - h, W: slot - 16, H: h, Count: n, Label: label, LabelX: i*slot + slot/2})
	}
	return c
}
