package demo

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// chain narrates the promotions: dev and staging merged by policy, prod
// waiting for alice, then alice's approval and the release.
func (p *narrator) chain(ctx context.Context, rt *local.Runtime, g *local.GitOps, res *Result, limit time.Duration) error {
	prs, err := g.Local.List(ctx, "")
	if err != nil {
		return err
	}
	sort.Slice(prs, func(i, j int) bool { return prs[i].Number < prs[j].Number })
	p.step("Promotion pull requests in the local forge (release: auto merges itself; manual waits)")
	var waiting *forge.PR
	for _, pr := range prs {
		p.detail("#%d %-7s %s", pr.Number, pr.State, pr.Title)
		if pr.State == forge.StateOpen {
			waiting = pr
		}
	}
	if waiting == nil {
		return fmt.Errorf("no promotion pull request waits for approval: see %s", res.Dir)
	}
	res.ProdPR = waiting.Number

	p.step("alice approves #%d (conveyor pr approve %d --as alice); the approval function checks the policy and merges", waiting.Number, waiting.Number)
	actx := logging.WithTrace(ctx, res.TraceID)
	if err := g.Local.Approve(actx, waiting.Number, "alice"); err != nil {
		return err
	}
	if _, err := settle(ctx, rt, limit); err != nil {
		return err
	}
	merged, err := g.Local.Get(ctx, waiting.Number)
	if err != nil {
		return err
	}
	if merged.State != forge.StateMerged {
		return fmt.Errorf("#%d is %s after alice's approval, want merged", merged.Number, merged.State)
	}
	p.detail("#%d merged by %s as %.12s", merged.Number, merged.MergedBy, merged.MergeCommit)

	cfg, err := g.Config(ctx)
	if err != nil {
		return err
	}
	rels, err := rt.State.ListReleases(ctx, state.ReleaseFilter{App: "web"})
	if err != nil {
		return err
	}
	app, _ := cfg.App("web")
	p.step("conveyor history web")
	var hist bytes.Buffer
	for _, j := range lineage.History(app, rels) {
		fmt.Fprintf(&hist, "commit %.12s → %.19s (%s)\n", j.SourceCommit, j.Digest, j.Tag)
		for _, s := range j.Steps {
			fmt.Fprintf(&hist, "  %-8s %-8s #%d merged by %-8s lead time %s\n", s.Env, s.State, s.PR, s.MergedBy, s.LeadTime)
		}
	}
	p.block(hist.String())
	now := time.Now()
	m := lineage.Compute(cfg, rels, now.Add(-30*24*time.Hour), now)
	p.step("conveyor metrics (last 30 days; prod is the last environment)")
	p.detail("deployments %d, lead time %s (from the demo commit's timestamp), change failure rate %.0f%%, time to restore %s",
		m.Deployments, m.LeadTime.Round(time.Second), 100*m.ChangeFailureRate, m.TimeToRestore)
	res.Releases = len(rels)
	return nil
}
