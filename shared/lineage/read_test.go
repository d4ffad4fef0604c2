package lineage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
)

func newStore(tb testing.TB) *sqlitestate.Store {
	tb.Helper()
	db, err := sqlitedb.Open(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	s, err := sqlitestate.Open(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// pipeline is apps apps with dev, staging and prod.
func pipeline(tb testing.TB, apps int) *config.Config {
	tb.Helper()
	var b strings.Builder
	b.WriteString("version: 1\ndefaults: {template: chain}\ntemplates:\n  - name: chain\n    environments:\n")
	for _, env := range []string{"dev", "staging", "prod"} {
		fmt.Fprintf(&b, "      - {name: %s, path: \"apps/{app}/%s\", release: manual, reviewers: [alice]}\n", env, env)
	}
	b.WriteString("apps:\n")
	for i := range apps {
		fmt.Fprintf(&b, "  - {name: app-%03d, source: {repo: acme/app-%03d}, image: acme/app-%03d}\n", i, i, i)
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

var states = []state.ReleaseState{state.Merged, state.Merged, state.Proposed, state.Superseded, state.Rejected, state.Skipped}

// seed writes perCell random releases to every cell of cfg, in creation
// order, the way a long-running pipeline leaves them.
func seed(tb testing.TB, s *sqlitestate.Store, cfg *config.Config, perCell int, rng *rand.Rand) {
	tb.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for i := range perCell {
		for _, a := range cfg.Apps {
			for _, e := range a.Environments {
				n++
				at := t0.Add(time.Duration(n) * time.Minute)
				r := state.Release{ID: fmt.Sprintf("%s/%s/%05d", a.Name, e.Name, i), App: a.Name, Env: e.Name,
					Digest: fmt.Sprintf("sha256:%064d", n), State: states[rng.IntN(len(states))], CreatedAt: at}
				if r.State == state.Merged {
					r.MergedAt = at.Add(time.Second)
				}
				if err := s.PutRelease(ctx, &r); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
}

// TestStatusRecordsShowWhatAllRecordsShow: status from the few records
// StatusRecords reads equals status from every record, over seeded random
// histories.
func TestStatusRecordsShowWhatAllRecordsShow(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for seedN := range uint64(5) {
		t.Run(fmt.Sprintf("seed=%d", seedN), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seedN, 15))
			s, cfg := newStore(t), pipeline(t, 4)
			seed(t, s, cfg, 1+rng.IntN(30), rng)
			all, err := s.ListReleases(ctx, state.ReleaseFilter{})
			if err != nil {
				t.Fatal(err)
			}
			// The SQLite store reads many cells per statement; a store with
			// only ListReleases (DynamoDB's shape) is read a cell at a time.
			for name, rs := range map[string]lineage.Releases{"per statement": s, "per cell": listOnly{s}} {
				few, err := lineage.StatusRecords(ctx, rs, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(few) > len(cfg.Apps)*3*3 {
					t.Errorf("%s: read %d records for %d cells, want at most 3 each", name, len(few), len(cfg.Apps)*3)
				}
				want, got := lineage.Status(cfg, all, now), lineage.Status(cfg, few, now)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: status from StatusRecords differs from status of every record (-all +few):\n%s", name, diff)
				}
			}
		})
	}
}

// listOnly hides every method of the store but ListReleases.
type listOnly struct{ s *sqlitestate.Store }

func (l listOnly) ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	return l.s.ListReleases(ctx, f)
}

// BenchmarkStatusRecords reads status for 100 apps × 3 environments after
// 10 and after 200 releases per cell: ns/op should not grow with history.
func BenchmarkStatusRecords(b *testing.B) {
	for _, perCell := range []int{10, 200} {
		b.Run(fmt.Sprintf("history=%d", perCell), func(b *testing.B) {
			s, cfg := newStore(b), pipeline(b, 100)
			seed(b, s, cfg, perCell, rand.New(rand.NewPCG(1, 2)))
			ctx := context.Background()
			for b.Loop() {
				if _, err := lineage.StatusRecords(ctx, s, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
