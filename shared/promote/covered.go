package promote

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// maxCandidates bounds the commits covered asks source history about,
// newest first, so a body's cost does not grow with all history.
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
// runs and not newer than the promotion.
func (p *Promoter) between(ctx context.Context, pm *promotion, r *state.Release) bool {
	quiet := slog.New(slog.DiscardHandler)
	if newer, err := p.older(ctx, pm.app, r, pm.in, quiet); err != nil || newer {
		return false
	}
	if pm.deployed == nil {
		return true
	}
	// r is newer than the deployed release when the deployed one, taken as
	// a promotion, is older than r.
	d := *pm.deployed
	asPromotion := pm.in
	asPromotion.Digest, asPromotion.Source, asPromotion.Revision, asPromotion.Created = d.Digest, d.SourceRepo, d.SourceCommit, d.SourceTime
	older, err := p.older(ctx, pm.app, r, asPromotion, quiet)
	return err == nil && older
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
