package lineage

import (
	"context"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"golang.org/x/sync/errgroup"
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
	if pc, ok := rs.(perCell); ok {
		return statusPerCell(ctx, pc, cfg)
	}
	var filters []state.ReleaseFilter
	for _, a := range cfg.Apps {
		for _, e := range a.Environments {
			filters = append(filters,
				state.ReleaseFilter{App: a.Name, Env: e.Name, State: state.Merged, Newest: statusDepth},
				state.ReleaseFilter{App: a.Name, Env: e.Name, State: state.Proposed, Newest: 1})
		}
	}
	// A query per cell is a round trip each on DynamoDB: a few at a time.
	results := make([][]state.Release, len(filters))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(statusReaders)
	for i, f := range filters {
		g.Go(func() error {
			rels, err := rs.ListReleases(ctx, f)
			if err != nil {
				return fmt.Errorf("reading the releases of %s/%s: %w", f.App, f.Env, err)
			}
			results[i] = rels
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []state.Release
	for _, rels := range results {
		out = append(out, rels...)
	}
	return out, nil
}

// statusReaders bounds StatusRecords' concurrent queries.
const statusReaders = 8

// perCell reads many cells' newest releases at once: the SQLite store
// does, in a statement per few hundred cells, where a query per cell
// would cost more than reading a short history whole.
type perCell interface {
	NewestPerCell(ctx context.Context, cells [][2]string, st state.ReleaseState, n int) ([]state.Release, error)
}

func statusPerCell(ctx context.Context, pc perCell, cfg *config.Config) ([]state.Release, error) {
	var cells [][2]string
	for _, a := range cfg.Apps {
		for _, e := range a.Environments {
			cells = append(cells, [2]string{a.Name, e.Name})
		}
	}
	merged, err := pc.NewestPerCell(ctx, cells, state.Merged, statusDepth)
	if err != nil {
		return nil, fmt.Errorf("reading the merged releases: %w", err)
	}
	proposed, err := pc.NewestPerCell(ctx, cells, state.Proposed, 1)
	if err != nil {
		return nil, fmt.Errorf("reading the open proposals: %w", err)
	}
	return append(merged, proposed...), nil
}
