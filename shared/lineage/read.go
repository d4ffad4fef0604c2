package lineage

import (
	"context"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Releases reads release records: state.Store satisfies it.
type Releases interface {
	ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error)
}

// statusDepth is how many merged releases of each app and environment
// StatusRecords reads: the current one and the rollback target.
const statusDepth = 2

// StatusRecords reads what Status shows of every app and environment of
// cfg: its newest merged releases and its newest open proposal. That is a
// few indexed reads per cell, so status and the board cost the same after
// a year of releases as after a day.
func StatusRecords(ctx context.Context, rs Releases, cfg *config.Config) ([]state.Release, error) {
	var out []state.Release
	for _, a := range cfg.Apps {
		for _, e := range a.Environments {
			for _, f := range []state.ReleaseFilter{
				{App: a.Name, Env: e.Name, State: state.Merged, Newest: statusDepth},
				{App: a.Name, Env: e.Name, State: state.Proposed, Newest: 1},
			} {
				rels, err := rs.ListReleases(ctx, f)
				if err != nil {
					return nil, fmt.Errorf("reading the releases of %s/%s: %w", a.Name, e.Name, err)
				}
				out = append(out, rels...)
			}
		}
	}
	return out, nil
}
