package board

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// page is what every page's layout shows.
type page struct {
	Title   string
	Nav     string
	Version string
	Now     time.Time
}

func (p page) version() string { return p.Version }

type gridPage struct {
	page
	Columns []string
	Rows    []gridRow
	// PinsErr says why drift could not be checked; NoPins that it is not
	// checked at all (no GitOps repository given).
	PinsErr string
	NoPins  bool
}

type gridRow struct {
	App string
	// Cells line up with Columns; nil where the app has no such
	// environment.
	Cells []*cell
}

// cell is one app × environment as the grid shows it.
type cell struct {
	lineage.Cell
	Commit  *history.Commit
	Policy  string
	Waiting bool
}

func (b *Board) grid(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	version := b.version(ctx)
	cfg, err := b.src.Config(ctx)
	if err != nil {
		b.fail(ctx, w, "the pipeline", err)
		return
	}
	// A few records per cell, however long the history.
	rels, err := lineage.StatusRecords(ctx, b.src.Releases, cfg)
	if err != nil {
		b.fail(ctx, w, "the pipeline", err)
		return
	}
	now := b.now()
	cells := lineage.Status(cfg, rels, now)
	p := gridPage{page: page{Title: "Pipeline", Nav: "grid", Version: version, Now: now}}
	if b.src.GitOps == nil {
		p.NoPins = true
	} else if pins, err := reconcile.Pins(ctx, b.src.GitOps, cfg, 1); err != nil {
		b.log.WarnContext(ctx, "reading what the GitOps repository pins", "err", err)
		p.PinsErr = "what the GitOps repository pins could not be read, so drift is not shown; see the log"
	} else {
		cells = lineage.WithPins(cells, reconcile.LineagePins(pins))
	}
	p.Columns = columns(cfg)
	byKey := map[[2]string]*cell{}
	lookups, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i := range cells {
		c := &cell{Cell: cells[i]}
		if a, ok := cfg.App(c.App); ok {
			if e, _, ok := a.Env(c.Env); ok {
				c.Policy = Policy(e)
				c.Waiting = c.PR > 0 && e.Release == config.ReleaseManual
				if c.Waiting {
					c.Policy = Progress(e, c.ProposedApprovedBy)
				}
			}
		}
		c.Commit = b.commit(lookups, c.App, c.SourceRepo, c.SourceCommit)
		byKey[[2]string{c.App, c.Env}] = c
	}
	for _, a := range cfg.Apps {
		row := gridRow{App: a.Name, Cells: make([]*cell, len(p.Columns))}
		for i, col := range p.Columns {
			row.Cells[i] = byKey[[2]string{a.Name, col}]
		}
		p.Rows = append(p.Rows, row)
	}
	b.render(ctx, w, r, "grid", p)
}

// records reads the pipeline and the release records matching f, as the
// status, history and metrics commands do.
func (b *Board) records(ctx context.Context, f state.ReleaseFilter) (*config.Config, []state.Release, error) {
	cfg, err := b.src.Config(ctx)
	if err != nil {
		return nil, nil, err
	}
	rels, err := b.src.Releases.ListReleases(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rels, nil
}

// columns orders every app's environments into one pipeline order: an
// environment first seen in an app goes right after that app's previous
// environment, so dev, staging, prod stay in order across apps that skip
// one.
func columns(cfg *config.Config) []string {
	var cols []string
	index := func(name string) int {
		for i, c := range cols {
			if c == name {
				return i
			}
		}
		return -1
	}
	for _, a := range cfg.Apps {
		prev := -1
		for _, e := range a.Environments {
			if i := index(e.Name); i >= 0 {
				prev = i
				continue
			}
			at := prev + 1
			cols = append(cols[:at], append([]string{e.Name}, cols[at:]...)...)
			prev = at
		}
	}
	return cols
}

// Policy says how an environment releases: "auto", or "manual: 2
// approvals from [alice, acme/sre]".
func Policy(e *config.Environment) string {
	if e.Release != config.ReleaseManual {
		return "auto"
	}
	n := e.Approvals
	if n == 0 {
		n = 1
	}
	noun := "approvals"
	if n == 1 {
		noun = "approval"
	}
	return fmt.Sprintf("manual: %d %s from [%s]", n, noun, strings.Join(e.Reviewers, ", "))
}

// Progress is a manual environment's policy against the approvals its
// open promotion has so far: "manual: 1 of 2 approvals from [alice,
// acme/sre] (so far: alice)".
func Progress(e *config.Environment, approvedBy []string) string {
	n := max(e.Approvals, 1)
	noun := "approvals"
	if n == 1 {
		noun = "approval"
	}
	p := fmt.Sprintf("manual: %d of %d %s from [%s]", len(approvedBy), n, noun, strings.Join(e.Reviewers, ", "))
	if len(approvedBy) > 0 {
		p += " (so far: " + strings.Join(approvedBy, ", ") + ")"
	}
	return p
}

// badge is one state of a cell, said in words and an icon as well as in
// colour.
type badge struct {
	Class, Icon, Text string
}

// Badges are the cell's states, most urgent first.
func (c *cell) Badges() []badge {
	var out []badge
	if c.Drift {
		out = append(out, badge{"drift", "⚠", "drift"})
	}
	if c.Frozen {
		out = append(out, badge{"frozen", "❄", "frozen"})
	}
	switch {
	case c.Waiting:
		out = append(out, badge{"waiting", "⏳", "waiting for approval"})
	case c.PR > 0:
		out = append(out, badge{"pending", "↻", "promotion open"})
	}
	switch {
	case c.Digest == "":
		out = append(out, badge{"empty", "∅", "never released"})
	case !c.Drift:
		out = append(out, badge{"ok", "✓", "released"})
	}
	return out
}
