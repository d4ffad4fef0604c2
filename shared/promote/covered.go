package promote

import (
	"context"
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// maxCandidates bounds the commits covered asks source history about,
// newest first (two compare calls each at most), so a body's cost does
// not grow with all history.
const maxCandidates = MaxCommits

// covered lists the source commits the promotion brings into its
// environment, oldest first: the commits of the app's releases in any
// environment — superseded and skipped ones included, so work a burst
// coalesced is named — that are newer than what the environment runs and
// not newer than the promotion, then the promotion's own. Source history
// decides when it can be read; otherwise build times do. It is for the
// reader: a failure shortens the list, never the promotion.
func (p *Promoter) covered(ctx context.Context, pm *promotion) []string {
	in := pm.in
	if in.Revision == "" || in.Rollback {
		return nil
	}
	rels, err := p.Releases.ListReleases(ctx, state.ReleaseFilter{App: in.App})
	if err != nil {
		pm.log.WarnContext(ctx, "listing the commits a promotion covers", "error", err.Error())
		return []string{in.Revision}
	}
	sort.SliceStable(rels, func(i, j int) bool { return rels[i].CreatedAt.After(rels[j].CreatedAt) })
	seen := map[string]bool{in.Revision: true}
	if pm.deployed != nil {
		seen[pm.deployed.SourceCommit] = true
	}
	var out []state.Release
	for i := range rels {
		r := rels[i]
		if len(out) == maxCandidates || seen[r.SourceCommit] || r.SourceCommit == "" || !config.SameRepo(r.SourceRepo, in.Source) ||
			outside(r.SourceTime, pm) {
			continue
		}
		seen[r.SourceCommit] = true
		if p.between(ctx, pm, &r) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SourceTime.Before(out[j].SourceTime) })
	commits := make([]string, 0, len(out)+1)
	for _, r := range out {
		commits = append(commits, r.SourceCommit)
	}
	return append(commits, in.Revision)
}

// between reports whether r's commit is newer than what the environment
// runs and not newer than the promotion. With source history it asks two
// questions at most: is r's commit in the promotion's history, and in the
// deployed one's; build times answer otherwise.
func (p *Promoter) between(ctx context.Context, pm *promotion, r *state.Release) bool {
	repo, in, dep := pm.app.Source.Repo, pm.in, pm.deployed
	fromSource := func(src, rev string) bool { return repo != "" && config.SameRepo(repo, src) && isCommit(rev) }
	byTime := func() bool {
		return !r.SourceTime.After(in.Created) && (dep == nil || r.SourceTime.After(dep.SourceTime))
	}
	if p.Ancestry == nil || !fromSource(r.SourceRepo, r.SourceCommit) || !fromSource(in.Source, in.Revision) {
		return byTime()
	}
	inPromotion, err := p.Ancestry.IsAncestor(ctx, repo, r.SourceCommit, in.Revision)
	switch {
	case err != nil:
		return byTime()
	case !inPromotion:
		return false
	case dep == nil || !fromSource(dep.SourceRepo, dep.SourceCommit):
		return true
	}
	inDeployed, err := p.Ancestry.IsAncestor(ctx, repo, r.SourceCommit, dep.SourceCommit)
	if err != nil {
		return byTime()
	}
	return !inDeployed
}

// outside reports whether a build time lies clearly outside the span
// from what the environment runs to the promotion: such a commit is not
// asked about, which keeps the history reads few. Unknown times are
// inside.
func outside(t time.Time, pm *promotion) bool {
	if t.IsZero() {
		return false
	}
	if !pm.in.Created.IsZero() && t.After(pm.in.Created.Add(clockSkew)) {
		return true
	}
	return pm.deployed != nil && !pm.deployed.SourceTime.IsZero() && t.Before(pm.deployed.SourceTime.Add(-clockSkew))
}
